package redis_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestClusterSubscribeDuringPublish subscribes while a publish is half
// done on a cluster: the publisher has taken its id from the id record
// (on the record's shard) and not yet written the event to the topic's
// shard. The event, written and published after the subscriber's first
// sync, must still be delivered: the id record runs ahead of the streams
// on a cluster, so it says nothing about what a topic's stream holds.
func TestClusterSubscribeDuringPublish(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	pub := open(t, c.URL(), sse.BrokerOptions{})
	recv := open(t, c.URL(), sse.BrokerOptions{})
	const topic = "inflight"
	first := brokertest.Publish(t, pub, 0, topic)

	// The publisher takes the next id...
	ms, _, _ := strings.Cut(first, "-")
	n, _ := strconv.ParseUint(ms, 10, 64)
	next := strconv.FormatUint(n+1, 10) + "-0"
	c.NodeFor(t, "ssevents:ids").MustDo("HSET", "ssevents:ids", "last", next)
	// ...a subscriber arrives...
	sub := brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}})
	// ...and the publish completes on the topic's shard, as the publish
	// script does it.
	shard := c.NodeFor(t, topic)
	shard.MustDo("XADD", "ssevents:{"+topic+"}", next, "e", "test.event", "d", `{"n":1}`)
	shard.MustDo("SPUBLISH", topic, `{"ssevents":1,"id":"`+next+`","event":"test.event","data":{"n":1}}`)
	brokertest.Publish(t, pub, 2, topic)

	got := brokertest.Receive(t, sub, 2)
	if brokertest.Seq(t, got[0]) != 1 || got[0].ID != next || brokertest.Seq(t, got[1]) != 2 {
		t.Fatalf("got %s, want the event published during Subscribe (id %s), then the next", events(got), next)
	}
}
