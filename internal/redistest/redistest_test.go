package redistest_test

import (
	"strings"
	"testing"

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
