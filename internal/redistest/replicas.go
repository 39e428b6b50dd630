package redistest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// failoverTimeout bounds how long a replicated cluster may take to promote
// a replica after its master died: with a cluster-node-timeout of 1s it
// takes two to four seconds; the rest is room for -race on a busy machine.
const failoverTimeout = 30 * time.Second

// StartReplicatedCluster starts a Redis Cluster of three masters with one
// replica each (redis-cli --cluster create --cluster-replicas 1), with a
// cluster-node-timeout of 1s so that a killed master's replica takes its
// slots over within a few seconds. It waits until every node reports
// cluster_state:ok and every replica is in sync with its master.
//
// Nodes holds the masters and Replicas the replicas as created (Replicas[i]
// is not necessarily the replica of Nodes[i]: use ReplicaOf). Roles change
// on failover; MasterFor and ReplicaOf ask the cluster.
func StartReplicatedCluster(t testing.TB) *Cluster {
	t.Helper()
	const nodes = 6
	var all []*Server
	for range nodes {
		all = append(all, start(t, freePort(t, true),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000",
			// A replica that lost its master takes over however long the
			// link was down: the tests kill masters on purpose.
			"--cluster-replica-validity-factor", "0"))
	}
	args := []string{"--cluster", "create"}
	for _, n := range all {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c := &Cluster{t: t, ids: map[*Server]string{}}
	for _, n := range all {
		c.ids[n] = n.MustDo("CLUSTER", "MYID")
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range all {
		for {
			info, err := n.Do("CLUSTER", "INFO")
			repl, rerr := n.Do("INFO", "replication")
			if err == nil && rerr == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:6") &&
				(strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok and in sync within %v: %s %s %v %v", n.Addr(), startTimeout, info, repl, err, rerr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, n := range all {
		if c.isMaster(n) {
			c.Nodes = append(c.Nodes, n)
		} else {
			c.Replicas = append(c.Replicas, n)
		}
	}
	if len(c.Nodes) != 3 || len(c.Replicas) != 3 {
		t.Fatalf("cluster has %d masters and %d replicas, want 3 and 3", len(c.Nodes), len(c.Replicas))
	}
	return c
}

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id, addr, master string
	flags            []string
	slots            []string // ranges as listed, "0-5460"
}

// clusterNodes returns the cluster's view of its nodes, asked of the first
// live node, and that node.
func (c *Cluster) clusterNodes() ([]nodeLine, *Server) {
	c.t.Helper()
	var lastErr error
	for _, n := range append(slices.Clone(c.Nodes), c.Replicas...) {
		out, err := n.Do("CLUSTER", "NODES")
		if err != nil {
			lastErr = err
			continue
		}
		return parseNodes(out), n
	}
	c.t.Fatalf("no cluster node answers CLUSTER NODES: %v", lastErr)
	return nil, nil
}

func parseNodes(out string) []nodeLine {
	var lines []nodeLine
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr := f[1]
		if i := strings.IndexByte(addr, '@'); i >= 0 {
			addr = addr[:i]
		}
		l := nodeLine{id: f[0], addr: addr, master: f[3], flags: strings.Split(f[2], ",")}
		for _, r := range f[8:] {
			if !strings.HasPrefix(r, "[") { // skip migrating/importing markers
				l.slots = append(l.slots, r)
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// server returns the cluster's Server listening on addr, or nil.
func (c *Cluster) server(addr string) *Server {
	for _, n := range append(slices.Clone(c.Nodes), c.Replicas...) {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// isMaster reports whether n is a master, by its own account.
func (c *Cluster) isMaster(n *Server) bool {
	out := n.MustDo("ROLE")
	return strings.HasPrefix(out, "master")
}

// MasterFor returns the node that serves key's slot now, as the cluster
// reports it (after a failover, the promoted replica).
func (c *Cluster) MasterFor(key string) *Server {
	c.t.Helper()
	return c.masterFor(c.t, key)
}

// masterFor returns the live master that serves key's slot, failing t
// when there is none.
func (c *Cluster) masterFor(t testing.TB, key string) *Server {
	t.Helper()
	lines, asked := c.clusterNodes()
	slot := asked.MustDo("CLUSTER", "KEYSLOT", key)
	for _, l := range lines {
		if !slices.Contains(l.flags, "master") || slices.Contains(l.flags, "fail") {
			continue
		}
		for _, r := range l.slots {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			if inRange(slot, lo, hi) {
				if s := c.server(l.addr); s != nil {
					return s
				}
			}
		}
	}
	t.Fatalf("no live master serves the slot of %q", key)
	return nil
}

// ReplicaOf returns the replica of master, as the cluster reports it. It
// works for a master that has been killed too, as long as the cluster
// still lists the replica as its replica (before a failover).
func (c *Cluster) ReplicaOf(master *Server) *Server {
	c.t.Helper()
	id := c.ids[master]
	lines, _ := c.clusterNodes()
	for _, l := range lines {
		if l.master == id && slices.Contains(l.flags, "slave") {
			if s := c.server(l.addr); s != nil {
				return s
			}
		}
	}
	c.t.Fatalf("no replica of %s (node %s) in the cluster", master.Addr(), id)
	return nil
}

// WaitFailover waits until the cluster has replaced killed, a master that
// the test killed: every live node reports cluster_state:ok, and reports
// killed's former replica as a master serving the slots killed served. It
// returns the promoted replica. Call ReplicaOf before killing the master
// if the test needs the replica before the failover.
func (c *Cluster) WaitFailover(t testing.TB, killed *Server) *Server {
	t.Helper()
	id := c.ids[killed]
	var before nodeLine // killed's line as a live node last reported it
	var replica string  // the replica's node id
	lines, _ := c.clusterNodes()
	for _, l := range lines {
		if l.id == id {
			before = l
		}
		if l.master == id {
			replica = l.id
		}
	}
	if replica == "" || len(before.slots) == 0 {
		t.Fatalf("WaitFailover: %s had no replica or no slots: %+v", killed.Addr(), lines)
	}
	var promoted *Server
	deadline := time.Now().Add(failoverTimeout)
	for {
		ok, why := true, ""
		for _, n := range append(slices.Clone(c.Nodes), c.Replicas...) {
			if n == killed {
				continue
			}
			info, err := n.Do("CLUSTER", "INFO")
			if err != nil {
				continue // another node the test stopped
			}
			if !strings.Contains(info, "cluster_state:ok") {
				ok, why = false, n.Addr()+" is not cluster_state:ok"
				break
			}
			out, err := n.Do("CLUSTER", "NODES")
			if err != nil {
				ok, why = false, err.Error()
				break
			}
			found := false
			for _, l := range parseNodes(out) {
				if l.id == replica && slices.Contains(l.flags, "master") && slices.Equal(l.slots, before.slots) {
					found, promoted = true, c.server(l.addr)
				}
			}
			if !found {
				ok, why = false, n.Addr()+" does not yet see "+replica+" serving "+strings.Join(before.slots, " ")
				break
			}
		}
		if ok && promoted != nil {
			return promoted
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failover of %s within %v: %s", killed.Addr(), failoverTimeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
