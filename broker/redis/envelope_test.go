package redis_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestMalformedEnvelopes publishes, as a foreign publisher would with a
// plain PUBLISH, messages that are not fastapi-sse-events envelopes: each
// is counted (not as a broker error), the first one of each channel is
// logged with the channel, the reason and an excerpt, later ones are only
// counted, and the good envelopes that follow are delivered.
func TestMalformedEnvelopes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	obs := &observer{}
	logs := &lockedBuffer{}
	b := open(t, srv.URL(), sse.BrokerOptions{Observer: obs, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"comments", "orders", "long"}})
	long := strings.Repeat("x", 300)
	bad := []struct{ channel, payload string }{
		{"comments", `not json`},
		{"comments", `{"event":"bad name","data":{}}`},
		{"comments", `{"data":{"id":1}}`},
		{"orders", `{"event":"resync","data":{}}`},
		{"orders", `{"ssevents":1,"id":"nope","event":"x","data":{}}`},
		{"long", long},
	}
	for _, m := range bad {
		srv.MustDo("PUBLISH", m.channel, m.payload)
	}
	// fastapi-sse-events' envelope: event, data and its own id, which
	// ssevents does not keep (a string here, a number from another
	// publisher).
	srv.MustDo("PUBLISH", "comments", `{"event":"comment_created","data":{"id": 42},"id":"py-7f3a-1"}`)
	srv.MustDo("PUBLISH", "orders", `{"event":"order_paid","data":{"id":7},"id":17}`)
	got := receiveQuiet(t, sub, 2)
	byTopic := map[string]sse.Event{}
	for _, ev := range got {
		byTopic[ev.Topic] = ev
	}
	if ev := byTopic["comments"]; ev.Name != "comment_created" || string(ev.Data) != `{"id":42}` || ev.ID != "" {
		t.Errorf("comments: got %+v, want comment_created {\"id\":42} without an id", ev)
	}
	if ev := byTopic["orders"]; ev.Name != "order_paid" || string(ev.Data) != `{"id":7}` || ev.ID != "" {
		t.Errorf("orders: got %+v, want order_paid {\"id\":7} without an id", ev)
	}
	// Messages of one channel arrive in order, so the bad ones were
	// handled before the good ones.
	if n := obs.malformed.Load(); n != int64(len(bad)) {
		t.Errorf("EnvelopeMalformed called %d times, want %d", n, len(bad))
	}
	if n := obs.errors.Load(); n != 0 {
		t.Errorf("BrokerError called %d times for malformed envelopes, want 0 (Redis is fine)", n)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "malformed envelope") {
			lines = append(lines, l)
		}
	}
	want := []struct{ channel, reason, excerpt string }{
		{"comments", "not a JSON envelope", `excerpt="not json"`},
		{"orders", "reserved", `excerpt="{\"event\":\"resync\",\"data\":{}}"`},
		{"long", "not a JSON envelope", `excerpt=` + strings.Repeat("x", 80) + "…"},
	}
	if len(lines) != len(want) {
		t.Fatalf("log has %d lines about malformed envelopes, want one per channel (%d):\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		l := lines[i]
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "channel="+w.channel) ||
			!strings.Contains(l, w.reason) || !strings.Contains(l, w.excerpt+" ") && !strings.HasSuffix(l, w.excerpt) {
			t.Errorf("log line %d = %s\nwant WARN naming channel %s, reason %q, %s", i, l, w.channel, w.reason, w.excerpt)
		}
	}
}

// receiveQuiet waits for n events on sub and fails the test if more
// arrive within brokertest.QuietPeriod after them. (brokertest.Receive
// tells events apart by id, and events from foreign publishers have none.)
func receiveQuiet(t *testing.T, sub sse.Subscription, n int) []sse.Event {
	t.Helper()
	got := brokertest.ReceiveAtLeast(t, sub, n)
	time.Sleep(brokertest.QuietPeriod)
	got, err := sub.Drain(got)
	if err != nil {
		t.Fatalf("subscription ended: %v", err)
	}
	if len(got) != n {
		t.Fatalf("received %d events, want %d: %s", len(got), n, events(got))
	}
	return got
}

// events describes evs for a failure message: topic, name, id and data.
func events(evs []sse.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s %s id=%q %s", ev.Topic, ev.Name, ev.ID, ev.Data)
	}
	return b.String()
}

// lockedBuffer collects a logger's output; safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
