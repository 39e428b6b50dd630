package redistest_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/redistest"
)

func TestServerRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.MustDo("SET", "k", "v")
	if got := s.MustDo("GET", "k"); got != "v" {
		t.Fatalf("GET k = %q", got)
	}
	s.Kill()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Restart()
	if got := s.MustDo("GET", "k"); got != "" {
		t.Fatalf("after restart GET k = %q, want nothing (no persistence)", got)
	}
	s.Stop()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	owners := map[string]bool{}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		owners[c.NodeFor(t, key).Addr()] = true
	}
	if len(owners) < 2 {
		t.Fatalf("8 keys all on one node: %v", owners)
	}
	if info := c.Nodes[1].MustDo("CLUSTER", "INFO"); !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("CLUSTER INFO: %s", info)
	}
}

// TestRestartData restarts a server after Kill and after Stop: one from
// Start comes back empty, one from StartPersistent with every write.
func TestRestartData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(testing.TB, ...string) *redistest.Server
		want  string
	}{
		{"Start", redistest.Start, ""},
		{"StartPersistent", redistest.StartPersistent, "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.start(t)
			s.MustDo("SET", "k", "v")
			s.MustDo("XADD", "stream", "*", "f", "1")
			s.Kill()
			s.Restart()
			if got := s.MustDo("GET", "k"); got != tt.want {
				t.Fatalf("after Kill and Restart GET k = %q, want %q", got, tt.want)
			}
			s.MustDo("SET", "k2", "v")
			s.Stop()
			s.Restart()
			if got := s.MustDo("GET", "k2"); got != tt.want {
				t.Fatalf("after Stop and Restart GET k2 = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRestartWaitsForDataset restarts a persistent server whose dataset
// takes a while to load (key-load-delay, a Redis debug setting, sleeps
// while each key is loaded from the RDB base of its append-only file): the
// first command after Restart is answered with the data, not LOADING.
func TestRestartWaitsForDataset(t *testing.T) {
	t.Parallel()
	const keys = 20
	s := redistest.StartPersistent(t, "--key-load-delay", "25000") // 25 ms a key: half a second in all
	for i := range keys {
		s.MustDo("SET", "k"+strconv.Itoa(i), "v")
	}
	s.MustDo("BGREWRITEAOF") // the keys go into the RDB base, where the delay applies
	deadline := time.Now().Add(10 * time.Second)
	for info := s.MustDo("INFO", "persistence"); !strings.Contains(info, "aof_rewrite_in_progress:0") ||
		!strings.Contains(info, "aof_rewrite_scheduled:0") || !strings.Contains(info, "aof_last_bgrewrite_status:ok"); info = s.MustDo("INFO", "persistence") {
		if time.Now().After(deadline) {
			t.Fatalf("the append-only file was not rewritten within 10s: %s", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	s.Restart()
	if got, err := s.Do("DBSIZE"); err != nil || got != strconv.Itoa(keys) {
		t.Fatalf("DBSIZE right after Restart = %q, %v; want %d", got, err, keys)
	}
}

// TestPause freezes a server: a command sent on an open connection gets
// no answer while it is paused and is answered after Continue, and a
// paused server can be stopped (and left paused: its cleanup kills it).
func TestPause(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.MustDo("SET", "k", "v")
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r := bufio.NewReader(conn)
	s.Pause()
	if _, err := conn.Write([]byte("GET k\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("GET answered while paused: %q", line)
	}
	s.Continue()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "$1\r\n" {
		t.Fatalf("GET after Continue: %q %v", line, err)
	}
	s.Pause()
	start := time.Now()
	s.Stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Stop of a paused server took %v", d)
	}
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Restart()
	s.Pause()
}

// TestReplicatedClusterFailover kills the master of a key: its replica
// takes the slot over and serves reads and writes for the key.
func TestReplicatedClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartReplicatedCluster(t)
	if len(c.Nodes) != 3 || len(c.Replicas) != 3 || len(c.Addrs()) != 6 {
		t.Fatalf("%d masters, %d replicas, %d addrs", len(c.Nodes), len(c.Replicas), len(c.Addrs()))
	}
	const key = "failover-key"
	master := c.MasterFor(key)
	replica := c.ReplicaOf(master)
	if replica == master || !isRole(t, replica, "slave") || !isRole(t, master, "master") {
		t.Fatalf("ReplicaOf(%s) = %s", master.Addr(), replica.Addr())
	}
	master.MustDo("SET", key, "before")
	// The key must be on the replica before the master dies. (WAIT cannot
	// tell: it waits for the writes of its own connection, and each Do
	// has a connection of its own, so it answered at once.)
	for deadline := time.Now().Add(30 * time.Second); replica.MustDo("DBSIZE") != "1"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replica %s never received the write", replica.Addr())
		}
	}
	master.Kill()
	start := time.Now()
	promoted := c.WaitFailover(t, master)
	t.Logf("failover took %v", time.Since(start))
	if promoted != replica || !isRole(t, replica, "master") {
		t.Fatalf("WaitFailover = %s, want the former replica %s as master", promoted.Addr(), replica.Addr())
	}
	if got := c.MasterFor(key); got != replica {
		t.Fatalf("MasterFor(%q) = %s after the failover, want %s", key, got.Addr(), replica.Addr())
	}
	if got := replica.MustDo("GET", key); got != "before" {
		t.Fatalf("GET on the promoted replica = %q, want %q", got, "before")
	}
	replica.MustDo("SET", key, "after")
	if got := replica.MustDo("GET", key); got != "after" {
		t.Fatalf("GET after SET on the promoted replica = %q", got)
	}
}

// isRole reports whether ROLE on s names role first.
func isRole(t *testing.T, s *redistest.Server, role string) bool {
	t.Helper()
	return strings.HasPrefix(s.MustDo("ROLE"), role)
}
