package redis_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// TestResubscribe breaks the subscriber's connection in several ways and
// then waits until the broker is ready AND its channel is subscribed again
// on the real server before another instance publishes: those events can
// only arrive live, through the new subscription, not through the stream
// replay that follows a reconnect. (TestRedisRestart publishes while the
// subscriber is still away, so a broker that never resubscribed passed it
// on replays alone.)
func TestResubscribe(t *testing.T) {
	t.Parallel()
	const topic = "orders"
	tests := []struct {
		name string
		// start starts Redis and returns the broker URL and the node
		// that serves topic.
		start func(t *testing.T) (url string, node *redistest.Server, shard bool)
		// fault breaks the subscriber connection.
		fault func(t *testing.T, node *redistest.Server)
		// lost: the fault loses the dataset, so the subscription ends and
		// its resume yields a resync; the resumed one must then be live.
		lost bool
	}{
		{"RestartEmpty", single(redistest.Start), restart, true},
		{"RestartWithData", single(redistest.StartPersistent), restart, false},
		{"ClientKill", single(redistest.Start), clientKill, false},
		{"ClusterClientKill", func(t *testing.T) (string, *redistest.Server, bool) {
			c := redistest.StartCluster(t)
			return c.URL(), c.NodeFor(t, topic), true
		}, clientKill, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, node, shard := tt.start(t)
			url += "?timeout=500ms"
			metrics := &observer{}
			recv := open(t, url, sse.BrokerOptions{Observer: metrics})
			sub := brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}, QueueSize: 100})
			before := open(t, url, sse.BrokerOptions{})
			for i := range 3 {
				brokertest.Publish(t, before, i, topic)
			}
			got := brokertest.Receive(t, sub, 3)
			checkSeqs(t, got, 0, 3)
			reconnects := metrics.reconnects.Load()

			tt.fault(t, node)

			brokertest.Eventually(t, "the subscriber reconnected", func() bool {
				return metrics.reconnects.Load() > reconnects
			})
			brokertest.Eventually(t, "Ready after the fault", func() bool { return recv.Ready(context.Background()) == nil })
			if tt.lost {
				sub = resumeAfterLoss(t, recv, sub, got[len(got)-1].ID, topic)
			}
			brokertest.Eventually(t, "the channel is subscribed again", func() bool { return numsub(t, node, shard, topic) >= 1 })
			if got, err := sub.Drain(nil); len(got) != 0 || err != nil {
				t.Fatalf("before any new publish: %d events, err %v", len(got), err)
			}
			// Another hub publishes, on connections of its own.
			after := open(t, url, sse.BrokerOptions{})
			for i := 3; i < 8; i++ {
				brokertest.Publish(t, after, i, topic)
			}
			checkSeqs(t, brokertest.Receive(t, sub, 5), 3, 8)
		})
	}
}

// resumeAfterLoss waits until sub, whose dataset Redis lost, ends with
// ErrUnavailable without a further event, then resumes from lastID and
// requires a resync of topic.
func resumeAfterLoss(t *testing.T, b sse.Broker, sub sse.Subscription, lastID, topic string) sse.Subscription {
	t.Helper()
	deadline := time.After(brokertest.WaitTimeout)
	for {
		got, err := sub.Drain(nil)
		if len(got) > 0 {
			t.Fatalf("the subscription of the lost dataset received %v", brokertest.Seqs(t, got))
		}
		if err != nil {
			if !errors.Is(err, sse.ErrUnavailable) {
				t.Fatalf("subscription ended with %v, want ErrUnavailable", err)
			}
			break
		}
		select {
		case <-sub.Notify():
		case <-deadline:
			t.Fatal("the subscription of a lost dataset is still open")
		}
	}
	resumed := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}, LastEventID: lastID, QueueSize: 100})
	if bl := resumed.Backlog(); !slices.Equal(bl.ResyncTopics(), []string{topic}) || len(bl.Events) != 0 {
		t.Fatalf("resume from %s after the dataset was lost: backlog %+v, want a resync of %s", lastID, bl, topic)
	} else if g, err := streamid.Parse(bl.Resync[0].Genesis); bl.Resync[0].Reason != sse.ResyncDatasetChanged || err != nil || !mustID(t, lastID).Less(g) {
		t.Fatalf("resume from %s after the dataset was lost: Resync %+v, want dataset_changed with a genesis after it", lastID, bl.Resync[0])
	}
	return resumed
}

// single adapts a single-server start function to TestResubscribe.
func single(start func(testing.TB, ...string) *redistest.Server) func(*testing.T) (string, *redistest.Server, bool) {
	return func(t *testing.T) (string, *redistest.Server, bool) {
		srv := start(t)
		return srv.URL(), srv, false
	}
}

// restart kills Redis and starts it again on the same port.
func restart(t *testing.T, srv *redistest.Server) {
	t.Helper()
	srv.Kill()
	srv.Restart()
}

// clientKill closes every Pub/Sub connection of the server, as an
// operator or a client-output-buffer limit would.
func clientKill(t *testing.T, srv *redistest.Server) {
	t.Helper()
	if n := srv.MustDo("CLIENT", "KILL", "TYPE", "pubsub"); n == "0" {
		t.Fatalf("CLIENT KILL TYPE pubsub killed no connection")
	}
}

// checkSeqs fails unless evs carry the payloads from, from+1, ... to-1, in
// this order.
func checkSeqs(t *testing.T, evs []sse.Event, from, to int) {
	t.Helper()
	got := brokertest.Seqs(t, evs)
	want := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got events %v, want %v", got, want)
	}
}

// mustID parses id.
func mustID(t *testing.T, id string) streamid.ID {
	t.Helper()
	p, err := streamid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
