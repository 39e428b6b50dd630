package redistest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster started by StartCluster (three masters) or
// StartReplicatedCluster (three masters with a replica each).
type Cluster struct {
	// Nodes are the cluster's masters as created, each owning a third of
	// the slots.
	Nodes []*Server
	// Replicas are the cluster's replicas as created; none for
	// StartCluster.
	Replicas []*Server

	t   testing.TB
	ids map[*Server]string // CLUSTER MYID of each node
}

// StartCluster starts a three-master Redis Cluster (no replicas) with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	const masters = 3
	c := &Cluster{t: t, ids: map[*Server]string{}}
	for range masters {
		c.Nodes = append(c.Nodes, start(t, freePort(t, true),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000"))
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range c.Nodes {
		for {
			info, err := n.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok within %v: %s %v", n.Addr(), startTimeout, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.ids[n] = n.MustDo("CLUSTER", "MYID")
	}
	return c
}

// Addrs returns the addresses of the masters, then of the replicas, as
// created: "127.0.0.1:<port>".
func (c *Cluster) Addrs() []string {
	out := make([]string, 0, len(c.Nodes)+len(c.Replicas))
	for _, n := range append(slices.Clone(c.Nodes), c.Replicas...) {
		out = append(out, n.Addr())
	}
	return out
}

// URL returns "redis+cluster://<addr>,<addr>,..." with the addresses of
// Addrs.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// NodeFor returns the node that owns key's slot, by asking a node
// (CLUSTER KEYSLOT) and the cluster's slot table (CLUSTER SHARDS is not in
// every Redis 7.0 build, so CLUSTER NODES is parsed); t fails when none
// does.
func (c *Cluster) NodeFor(t testing.TB, key string) *Server {
	t.Helper()
	return c.masterFor(t, key)
}

func inRange(slot, lo, hi string) bool {
	var s, l, h int
	for _, p := range []struct {
		txt string
		v   *int
	}{{slot, &s}, {lo, &l}, {hi, &h}} {
		n := 0
		for _, c := range p.txt {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		*p.v = n
	}
	return l <= s && s <= h
}
