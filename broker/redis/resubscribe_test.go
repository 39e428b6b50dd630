package redis_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// quietPeriod is how long a test waits to see that no further (duplicate)
// event arrives.
const quietPeriod = 200 * time.Millisecond

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
			sub := subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}, QueueSize: 100})
			before := open(t, url, sse.BrokerOptions{})
			for i := range 3 {
				publish(t, before, i, topic)
			}
			got := receiveOnly(t, sub, 3)
			checkSeqs(t, got, 0, 3)
			reconnects := metrics.reconnects.Load()

			tt.fault(t, node)

			eventually(t, "the subscriber reconnected", func() bool {
				return metrics.reconnects.Load() > reconnects
			})
			eventually(t, "Ready after the fault", func() bool { return recv.Ready(context.Background()) == nil })
			if tt.lost {
				sub = resumeAfterLoss(t, recv, sub, got[len(got)-1].ID, topic)
			}
			eventually(t, "the channel is subscribed again", func() bool { return numsub(t, node, shard, topic) >= 1 })
			if got, err := sub.Drain(nil); len(got) != 0 || err != nil {
				t.Fatalf("before any new publish: %d events, err %v", len(got), err)
			}
			// Another hub publishes, on connections of its own.
			after := open(t, url, sse.BrokerOptions{})
			for i := 3; i < 8; i++ {
				publish(t, after, i, topic)
			}
			checkSeqs(t, receiveOnly(t, sub, 5), 3, 8)
		})
	}
}

// resumeAfterLoss waits until sub, whose dataset Redis lost, ends with
// ErrUnavailable without a further event, then resumes from lastID and
// requires a resync of topic.
func resumeAfterLoss(t *testing.T, b sse.Broker, sub sse.Subscription, lastID, topic string) sse.Subscription {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		got, err := sub.Drain(nil)
		if len(got) > 0 {
			t.Fatalf("the subscription of the lost dataset received %v", seqs(t, got))
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
	resumed := subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}, LastEventID: lastID, QueueSize: 100})
	if bl := resumed.Backlog(); !slices.Equal(bl.Resync, []string{topic}) || len(bl.Events) != 0 {
		t.Fatalf("resume from %s after the dataset was lost: backlog %+v, want a resync of %s", lastID, bl, topic)
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

// receiveOnly waits for n events on sub and fails if more arrive, in the
// same Drain or within quietPeriod after.
func receiveOnly(t *testing.T, sub sse.Subscription, n int) []sse.Event {
	t.Helper()
	got := receive(t, sub, n)
	if len(got) > n {
		t.Fatalf("received %d events, want %d: %v", len(got), n, seqs(t, got))
	}
	time.Sleep(quietPeriod) // waiting for nothing is the point
	if extra, err := sub.Drain(nil); len(extra) > 0 || err != nil {
		t.Fatalf("after %d events: %v more, err %v", n, seqs(t, extra), err)
	}
	return got
}

// checkSeqs fails unless evs carry the payloads from, from+1, ... to-1, in
// this order.
func checkSeqs(t *testing.T, evs []sse.Event, from, to int) {
	t.Helper()
	got := seqs(t, evs)
	want := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got events %v, want %v", got, want)
	}
}
