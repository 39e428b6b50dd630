package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // redis:// brokers
	"github.com/ssevents/ssevents/faults/faultproxy"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// waitTimeout bounds every wait for Redis, a reconnect or an event.
const waitTimeout = 15 * time.Second

// quietPeriod is how long a test waits to see that no further (duplicate)
// event arrives.
const quietPeriod = 200 * time.Millisecond

// TestSubscriberBlackhole cuts the subscriber's network to Redis without
// closing anything for a few seconds while another instance, directly
// connected, goes on publishing. After healing, every event whose Publish
// returned an id reaches the subscriber exactly once and in order (or the
// subscription ends and a resume from its last event is told to resync
// the topic), and events published afterwards arrive live.
func TestSubscriberBlackhole(t *testing.T) {
	t.Parallel()
	const topic = "orders"
	srv := redistest.Start(t)
	p := faultproxy.Start(t, srv.Addr())
	metrics := ssevents.NewMetrics()
	opts := sse.BrokerOptions{HistorySize: 1000, Observer: metrics}
	recv := open(t, "redis://"+p.Addr()+"/0?timeout=500ms", opts)
	pub := open(t, srv.URL(), sse.BrokerOptions{HistorySize: 1000})
	sub := subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}, QueueSize: 1000})

	n := 0
	var want []int // payloads of the events Redis accepted, in publish order
	publish := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := pub.Publish(ctx, sse.Message{Topics: []string{topic}, Event: "test.event", Data: data(n)}); err == nil {
			want = append(want, n)
		} else if !errors.Is(err, sse.ErrUnavailable) {
			t.Fatalf("Publish %d: %v", n, err)
		}
		n++
	}
	for range 3 {
		publish()
	}
	col := &collector{t: t, b: recv, topic: topic, sub: sub}
	col.wait(want)
	reconnects := metrics.Snapshot().Broker.Reconnects

	p.Blackhole()
	const outage = 5 * time.Second
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		publish()
	}
	if err := recv.Ready(context.Background()); err == nil {
		t.Logf("Ready reported nil at the end of the blackhole")
	}
	p.Heal()

	eventually(t, "the subscriber reconnected", func() bool { return metrics.Snapshot().Broker.Reconnects > reconnects })
	eventually(t, "Ready after healing", func() bool { return recv.Ready(context.Background()) == nil })
	eventually(t, "the channel is subscribed again", func() bool { return numsub(t, srv, topic) >= 1 })
	col.wait(want)
	col.check(want)

	// Live again: published after the subscriber is back.
	from := len(want)
	for range 5 {
		publish()
	}
	col.wait(want)
	col.check(want)
	t.Logf("%d events accepted during the blackhole, resyncs %d", from-3, col.resyncs)
}

// collector reads a subscription and, when it ends, resumes it from the
// last event read, as an SSE client would.
type collector struct {
	t       *testing.T
	b       sse.Broker
	topic   string
	sub     sse.Subscription
	got     []int
	lastID  string
	resyncs int // resumes told to resync: events may be missing before them
}

// wait reads until the events of want have arrived (after a resync, until
// the last of want has: those before it may be lost).
func (c *collector) wait(want []int) {
	c.t.Helper()
	n := len(want)
	deadline := time.Now().Add(waitTimeout)
	for len(c.got) < n && (c.resyncs == 0 || len(c.got) == 0 || c.got[len(c.got)-1] != want[n-1]) {
		evs, err := c.sub.Drain(nil)
		c.add(evs)
		if err != nil {
			c.resume(err)
			continue
		}
		if len(c.got) >= n {
			break
		}
		select {
		case <-c.sub.Notify():
		case <-time.After(time.Until(deadline)):
			c.t.Fatalf("received %d of %d events: %v", len(c.got), n, c.got)
		}
	}
}

func (c *collector) add(evs []sse.Event) {
	c.t.Helper()
	for _, ev := range evs {
		var v struct{ N int }
		if err := json.Unmarshal(ev.Data, &v); err != nil || ev.Topic != c.topic {
			c.t.Fatalf("event %+v: %v", ev, err)
		}
		c.got = append(c.got, v.N)
		c.lastID = ev.ID
	}
}

// resume opens the subscription again after it ended with err.
func (c *collector) resume(err error) {
	c.t.Helper()
	if !errors.Is(err, sse.ErrUnavailable) {
		c.t.Fatalf("subscription ended with %v, want ErrUnavailable", err)
	}
	c.t.Logf("subscription ended (%v); resuming from %s", err, c.lastID)
	var sub sse.Subscription
	eventually(c.t, "resume", func() bool {
		var err error
		sub, err = c.b.Subscribe(c.t.Context(), sse.SubscribeRequest{Topics: []string{c.topic}, LastEventID: c.lastID, QueueSize: 1000})
		return err == nil
	})
	c.t.Cleanup(func() { _ = sub.Close() })
	c.sub = sub
	bl := sub.Backlog()
	if len(bl.Resync) > 0 {
		if !slices.Equal(bl.ResyncTopics(), []string{c.topic}) {
			c.t.Fatalf("Resync = %v, want %s", bl.Resync, c.topic)
		}
		c.resyncs++
	}
	c.add(bl.Events)
}

// check fails unless the events read are want, each once and in order, or
// (after a resync) an in-order subsequence of want without duplicates.
func (c *collector) check(want []int) {
	c.t.Helper()
	time.Sleep(quietPeriod) // waiting for nothing is the point
	evs, err := c.sub.Drain(nil)
	if len(evs) > 0 || err != nil {
		c.t.Fatalf("after %d events: %d more (err %v)", len(c.got), len(evs), err)
	}
	if c.resyncs == 0 && !slices.Equal(c.got, want) {
		c.t.Fatalf("got %v, want %v", c.got, want)
	}
	for i := 1; i < len(c.got); i++ {
		if c.got[i] <= c.got[i-1] {
			c.t.Fatalf("event %d after %d: %v", c.got[i], c.got[i-1], c.got)
		}
	}
}

func open(t *testing.T, rawURL string, opts sse.BrokerOptions) sse.Broker {
	t.Helper()
	b, err := sse.OpenBroker(context.Background(), rawURL, opts)
	if err != nil {
		t.Fatalf("OpenBroker(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func subscribe(t *testing.T, b sse.Broker, req sse.SubscribeRequest) sse.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), req)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func data(n int) json.RawMessage { return json.RawMessage(`{"n":` + strconv.Itoa(n) + `}`) }

// numsub returns PUBSUB NUMSUB channel on srv.
func numsub(t *testing.T, srv *redistest.Server, channel string) int {
	t.Helper()
	out := strings.Split(srv.MustDo("PUBSUB", "NUMSUB", channel), "\n")
	n, err := strconv.Atoi(out[len(out)-1])
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB %s: %q", channel, out)
	}
	return n
}

// eventually polls cond every 10ms until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
