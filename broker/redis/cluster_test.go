package redis_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestCluster spreads topics over all three shards, publishes from one
// instance (opened with the fastapi-sse-events comma URL) and receives on
// another; each shard sees one sharded subscription per topic, none after.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	a := open(t, "redis://"+strings.Join(c.Addrs(), ",")+"/0", sse.BrokerOptions{})
	b := open(t, c.URL(), sse.BrokerOptions{})
	owner := map[string]*redistest.Server{}
	var topics []string
	shards := map[string]bool{}
	for i := 0; len(shards) < 3 || len(topics) < 6; i++ {
		topic := "room:" + strconv.Itoa(i)
		n := c.NodeFor(t, topic)
		owner[topic] = n
		shards[n.Addr()] = true
		topics = append(topics, topic)
	}
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, QueueSize: 100})
	for _, topic := range topics {
		if n := numsub(t, owner[topic], true, topic); n != 1 {
			t.Fatalf("SHARDNUMSUB %s on its shard = %d, want 1", topic, n)
		}
	}
	for i, topic := range topics {
		brokertest.Publish(t, a, i, topic)
	}
	got := brokertest.ReceiveAtLeast(t, sub, len(topics))
	seen := map[int]string{}
	for _, ev := range got {
		seen[brokertest.Seq(t, ev)] = ev.Topic
	}
	for i, topic := range topics {
		if seen[i] != topic {
			t.Fatalf("event %d arrived on %q, want %q (got %d events)", i, seen[i], topic, len(got))
		}
	}
	_ = sub.Close()
	for _, topic := range topics {
		brokertest.Eventually(t, "SUNSUBSCRIBE "+topic, func() bool { return numsub(t, owner[topic], true, topic) == 0 })
	}
}

// TestClusterReshard moves a subscribed topic's slot to another master:
// the subscriber follows it and misses nothing.
func TestClusterReshard(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	a := open(t, c.URL(), sse.BrokerOptions{})
	b := open(t, c.URL(), sse.BrokerOptions{})
	const topic = "moving"
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}})
	brokertest.Publish(t, a, 0, topic)
	brokertest.ReceiveAtLeast(t, sub, 1)

	src := c.NodeFor(t, topic)
	var dst *redistest.Server
	for _, n := range c.Nodes {
		if n != src {
			dst = n
			break
		}
	}
	slot := src.MustDo("CLUSTER", "KEYSLOT", topic)
	srcID, dstID := src.MustDo("CLUSTER", "MYID"), dst.MustDo("CLUSTER", "MYID")
	dst.MustDo("CLUSTER", "SETSLOT", slot, "IMPORTING", srcID)
	src.MustDo("CLUSTER", "SETSLOT", slot, "MIGRATING", dstID)
	if keys := src.MustDo("CLUSTER", "GETKEYSINSLOT", slot, "100"); keys != "" {
		src.MustDo(append([]string{"MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port), "", "0", "5000", "KEYS"}, strings.Split(keys, "\n")...)...)
	}
	for _, n := range []*redistest.Server{dst, src} {
		n.MustDo("CLUSTER", "SETSLOT", slot, "NODE", dstID)
	}
	for _, n := range c.Nodes {
		if n != src && n != dst {
			n.MustDo("CLUSTER", "SETSLOT", slot, "NODE", dstID)
		}
	}
	if c.NodeFor(t, topic) != dst {
		t.Fatalf("slot %s did not move", slot)
	}
	n := 1
	var got []sse.Event
	brokertest.Eventually(t, "events published after the move arrive", func() bool {
		if _, err := a.Publish(t.Context(), sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(n)}); err == nil {
			n++
		}
		got, _ = sub.Drain(got)
		return len(got) > 0 && n > 3
	})
	got = append(got, brokertest.ReceiveAtLeast(t, sub, n-1-len(got))...)
	for i, ev := range got {
		if brokertest.Seq(t, ev) != i+1 {
			t.Fatalf("after the move got %v, want 1..%d", brokertest.Seqs(t, got), n-1)
		}
	}
	brokertest.Eventually(t, "subscription on the new owner", func() bool { return numsub(t, dst, true, topic) == 1 })
}
