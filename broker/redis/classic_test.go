package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// pyEnvelope is the message a fastapi-sse-events publisher PUBLISHes: its
// envelope with its own id, which ssevents does not keep.
func pyEnvelope(event string, n int) string {
	return fmt.Sprintf(`{"event":%q,"data":{"n":%d},"id":"py-%d"}`, event, n, n)
}

// TestClusterClassicPubSub runs an unchanged fastapi-sse-events publisher,
// a plain PUBLISH to one node, against a Redis Cluster: with ClassicPubSub
// a broker delivers its envelopes exactly once and in order on topics of
// every shard, including shards other than the node its classic
// connection uses; without it, it never sees them (sharded subscriptions
// do not receive a PUBLISH), which is why the setting exists.
func TestClusterClassicPubSub(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	obs := &observer{}
	b := open(t, c.URL(), sse.BrokerOptions{ClassicPubSub: true, Observer: obs})
	owner := map[string]*redistest.Server{}
	var topics []string
	shards := map[*redistest.Server]bool{}
	for i := 0; len(shards) < 3 || len(topics) < 6; i++ {
		topic := "ticket:" + strconv.Itoa(i)
		owner[topic] = c.NodeFor(t, topic)
		shards[owner[topic]] = true
		topics = append(topics, topic)
	}
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, QueueSize: 1000})
	if err := b.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	// One node holds the classic subscriptions, every one of them, once.
	var classic *redistest.Server
	for _, n := range c.Nodes {
		if numsub(t, n, false, topics[0]) > 0 {
			classic = n
		}
	}
	if classic == nil {
		t.Fatal("no node has a classic subscription to " + topics[0])
	}
	elsewhere := 0
	for _, topic := range topics {
		total := 0
		for _, n := range c.Nodes {
			total += numsub(t, n, false, topic)
		}
		if total != 1 || numsub(t, classic, false, topic) != 1 {
			t.Fatalf("classic subscriptions to %s: %d in all, want 1 on %s", topic, total, classic.Addr())
		}
		if owner[topic] != classic {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Fatal("every topic's slot is on the classic connection's node; the test needs others")
	}
	var pubNode *redistest.Server // a node the classic connection is not on
	for _, n := range c.Nodes {
		if n != classic {
			pubNode = n
			break
		}
	}

	// A malformed envelope is counted and does not stop the ones after it.
	pubNode.MustDo("PUBLISH", topics[0], `{"event":"bad name"}`)
	const perTopic = 5
	for i := range perTopic {
		for _, topic := range topics {
			pubNode.MustDo("PUBLISH", topic, pyEnvelope("ticket_status_changed", i))
		}
	}
	got := receiveQuiet(t, sub, perTopic*len(topics))
	seqs := map[string][]int{}
	for _, ev := range got {
		if ev.Name != "ticket_status_changed" || ev.ID != "" {
			t.Fatalf("delivered %s, want ticket_status_changed without an id", events([]sse.Event{ev}))
		}
		seqs[ev.Topic] = append(seqs[ev.Topic], brokertest.Seq(t, ev))
	}
	for _, topic := range topics {
		if fmt.Sprint(seqs[topic]) != "[0 1 2 3 4]" {
			t.Errorf("%s (slot on %s, classic connection on %s): got %v, want [0 1 2 3 4] once each",
				topic, owner[topic].Addr(), classic.Addr(), seqs[topic])
		}
	}
	if n := obs.malformed.Load(); n != 1 {
		t.Errorf("malformed envelopes counted: %d, want 1", n)
	}

	// Our own events go through the shard (SPUBLISH) and its stream: a
	// copy of one PUBLISHed on the classic channel is not delivered again.
	pub := open(t, c.URL(), sse.BrokerOptions{})
	id := brokertest.Publish(t, pub, 100, topics[0])
	pubNode.MustDo("PUBLISH", topics[0], `{"ssevents":1,"id":"`+id+`","event":"test.event","data":{"n":100}}`)
	pubNode.MustDo("PUBLISH", topics[0], pyEnvelope("done", 101))
	got = receiveQuiet(t, sub, 2)
	var ours, done int
	for _, ev := range got {
		switch {
		case ev.ID == id && brokertest.Seq(t, ev) == 100:
			ours++
		case ev.Name == "done" && ev.ID == "":
			done++
		}
	}
	if ours != 1 || done != 1 {
		t.Fatalf("after a sharded publish and its classic copy got %s, want the event once and done", events(got))
	}

	// Without the setting a broker does not see a plain PUBLISH.
	plain := open(t, c.URL(), sse.BrokerOptions{})
	psub := brokertest.Subscribe(t, plain, sse.SubscribeRequest{Topics: topics[:1]})
	pubNode.MustDo("PUBLISH", topics[0], pyEnvelope("unseen", 200))
	// b's classic connection received it: it went out to the cluster.
	if got := receiveQuiet(t, sub, 1); got[0].Name != "unseen" {
		t.Fatalf("classic broker got %s, want the unseen envelope", events(got))
	}
	brokertest.Publish(t, pub, 201, topics[0])
	if got := brokertest.ReceiveAtLeast(t, psub, 1); got[0].Name != "test.event" || brokertest.Seq(t, got[0]) != 201 {
		t.Fatalf("without ClassicPubSub the first event is %s, want our publish 201 (the PUBLISHed envelope is not seen)", events(got[:1]))
	}
	total := 0
	for _, n := range c.Nodes {
		total += numsub(t, n, false, topics[0])
	}
	if total != 1 {
		t.Fatalf("classic subscriptions to %s: %d, want only the ClassicPubSub broker's", topics[0], total)
	}

	// Unsubscribing gives the classic channels up.
	_ = sub.Close()
	for _, topic := range topics {
		brokertest.Eventually(t, "classic UNSUBSCRIBE "+topic, func() bool { return numsub(t, classic, false, topic) == 0 })
	}
}

// TestClassicPubSubOneServer: on one server the channels are classic
// already, so ClassicPubSub opens no second subscription and a plain
// PUBLISH is delivered once.
func TestClassicPubSubOneServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := open(t, srv.URL(), sse.BrokerOptions{ClassicPubSub: true})
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"comments"}})
	if n := numsub(t, srv, false, "comments"); n != 1 {
		t.Fatalf("NUMSUB comments = %d, want 1", n)
	}
	srv.MustDo("PUBLISH", "comments", pyEnvelope("comment_created", 1))
	brokertest.Publish(t, b, 2, "comments")
	got := receiveQuiet(t, sub, 2)
	if got[0].Name != "comment_created" || got[0].ID != "" || got[1].ID == "" || brokertest.Seq(t, got[1]) != 2 {
		t.Fatalf("got %s, want the envelope without an id, then our event", events(got))
	}
}

// TestClusterClassicPubSubReconnect kills the classic subscriber
// connection: the broker reconnects, subscribes the classic channels again
// and delivers the plain PUBLISHes that follow, once each and in order.
func TestClusterClassicPubSubReconnect(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	obs := &observer{}
	b := open(t, c.URL(), sse.BrokerOptions{ClassicPubSub: true, Observer: obs})
	const topic = "comments"
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}})
	classicSubs := func() (total int, on *redistest.Server) {
		for _, n := range c.Nodes {
			if k := numsub(t, n, false, topic); k > 0 {
				total, on = total+k, n
			}
		}
		return total, on
	}
	total, node := classicSubs()
	if total != 1 {
		t.Fatalf("classic subscriptions to %s: %d, want 1", topic, total)
	}
	node.MustDo("CLIENT", "KILL", "TYPE", "pubsub")
	brokertest.Eventually(t, "classic subscription restored", func() bool { n, _ := classicSubs(); return n == 1 })
	for i := range 3 { // from one node: a cluster keeps one node's PUBLISHes in order
		c.Nodes[0].MustDo("PUBLISH", topic, pyEnvelope("comment_created", i))
	}
	got := receiveQuiet(t, sub, 3)
	for i, ev := range got {
		if ev.Name != "comment_created" || ev.ID != "" || brokertest.Seq(t, ev) != i {
			t.Fatalf("after the reconnect got %s, want comment_created 0, 1, 2", events(got))
		}
	}
	if obs.reconnects.Load() == 0 {
		t.Error("the reconnection was not reported to the Observer")
	}
}
