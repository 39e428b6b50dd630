package redis_test

import (
	"strconv"
	"testing"

	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// clusterTopics returns n topics whose presence keys are spread over
// at least two of c's masters.
func clusterTopics(t *testing.T, c *redistest.Cluster, n int) []string {
	t.Helper()
	var topics []string
	nodes := map[*redistest.Server]bool{}
	for i := 0; len(topics) < n || len(nodes) < 2; i++ {
		topic := "room:" + strconv.Itoa(i)
		nodes[c.NodeFor(t, entriesKey(topic))] = true
		topics = append(topics, topic)
	}
	return topics
}

// TestPresenceCluster: on a Redis Cluster, with topics in several slots,
// two instances share the members; an abandoned instance's members leave
// within TTL, once; a last stream's end is a leave after the grace period.
func TestPresenceCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	a := openInstance(t, c.URL(), presenceOptions(nil))
	b := openInstance(t, c.URL(), presenceOptions(nil))
	both := []*instance{a, b}
	topics := clusterTopics(t, c, 3)
	for _, topic := range topics {
		a.store.Add(topic, "ann", nil)
		b.store.Add(topic, "ann", nil)
		a.store.Add(topic, "bob", []byte(`{"n":1}`))
	}
	for _, topic := range topics {
		snap := waitSnapshot(t, b, topic, 2, 3)
		if m := members(snap); m["ann"].Connections != 2 || string(m["bob"].Info) != `{"n":1}` {
			t.Fatalf("%s: %+v", topic, snap)
		}
		waitCount(t, both, sse.EventJoin, topic, "ann", 1)
		waitCount(t, both, sse.EventJoin, topic, "bob", 1)
	}
	redis.AbandonPresence(a.store)
	for _, topic := range topics {
		waitCount(t, []*instance{b}, sse.EventLeave, topic, "bob", 1)
		waitSnapshot(t, b, topic, 1, 1)
		b.store.Remove(topic, "ann")
		waitCount(t, []*instance{b}, sse.EventLeave, topic, "ann", 1)
		waitSnapshot(t, b, topic, 0, 0)
	}
	barrier(t, b, []*instance{b}, topics[0])
	for _, topic := range topics {
		for _, u := range []string{"ann", "bob"} {
			if j, l := b.count(sse.EventJoin, topic, u), b.count(sse.EventLeave, topic, u); j != 1 || l != 1 {
				t.Fatalf("%s on %s: %d joins and %d leaves, want 1 and 1: %+v", u, topic, j, l, b.events())
			}
		}
	}
}

// TestPresenceClusterFailover kills the master of a topic's slot: its
// replica takes over, the members are there again within a refresh, and
// no join or leave is announced (a replica that missed writes included).
func TestPresenceClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartReplicatedCluster(t)
	opts := presenceOptions(nil)
	opts.TTL = 3 * testTTL // a failover takes seconds: the members must outlive it
	a := openInstance(t, c.URL(), opts)
	b := openInstance(t, c.URL(), opts)
	both := []*instance{a, b}
	const topic = "failover"
	users := []string{"u0", "u1", "u2", "u3"}
	for i, u := range users {
		both[i%2].store.Add(topic, u, nil)
	}
	waitSnapshot(t, a, topic, len(users), len(users))
	waitCount(t, both, sse.EventJoin, topic, "", len(users))
	master := c.MasterFor(entriesKey(topic))
	master.Kill()
	promoted := c.WaitFailover(t, master)
	// The replica missed the writes: it lost the topic's entries.
	for _, k := range []string{"e", "x", "u", "n", "s"} {
		promoted.MustDo("DEL", "ssevents:presence:{"+topic+"}:"+k)
	}
	waitSnapshot(t, b, topic, len(users), len(users))
	barrier(t, a, both, topic)
	for i, in := range both {
		j := in.count(sse.EventJoin, topic, "") - 1 // the barrier's
		if l := in.count(sse.EventLeave, topic, "") - 1; j != len(users) || l != 0 {
			t.Fatalf("instance %d: %d joins and %d leaves of members, want %d and 0: %+v", i, j, l, len(users), in.events())
		}
	}
}

// TestPresenceSentinelAndPrefix: an instance that reaches Redis through a
// Sentinel and one that reaches the master directly share presence; with
// a TopicPrefix, the keys carry the prefixed channel, and instances of
// another prefix see nothing.
func TestPresenceSentinelAndPrefix(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	prefixed := sse.BrokerOptions{TopicPrefix: "app"}
	var ins []*instance
	for _, url := range []string{"redis+sentinel://" + sentinel.Addr() + "/mymaster/0", master.URL(), master.URL()} {
		opts := prefixed
		if len(ins) == 2 {
			opts = sse.BrokerOptions{} // no prefix: another application
		}
		st, err := open(t, url, opts).Presence(presenceOptions(nil))
		if err != nil {
			t.Fatalf("Presence: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		in := &instance{recorder: &recorder{}, store: st}
		st.Watch(in.record)
		ins = append(ins, in)
	}
	ins[0].store.Add("room", "ann", nil)
	waitSnapshot(t, ins[1], "room", 1, 1)
	waitCount(t, ins[:2], sse.EventJoin, "room", "ann", 1)
	if n := master.MustDo("HLEN", "ssevents:presence:{app:room}:u"); n != "1" {
		t.Fatalf("HLEN of the prefixed users key = %q, want 1", n)
	}
	if snap, err := ins[2].store.Snapshot(t.Context(), "room", 10); err != nil || snap.Users != 0 {
		t.Fatalf("snapshot without the prefix = %+v, %v; want no users", snap, err)
	}
	barrier(t, ins[2], ins[2:], "room")
	if n := ins[2].count(sse.EventJoin, "room", "ann"); n != 0 {
		t.Fatalf("the instance without the prefix saw %d joins of ann", n)
	}
}
