package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// newBroker returns an embedded broker opened with opts, closed when the
// test ends.
func newBroker(t *testing.T, opts sse.BrokerOptions) *memory.Broker {
	t.Helper()
	b := memory.New(opts)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// resume subscribes to topics from lastID and returns the backlog: the
// resynced topics and the payload numbers of the replayed events.
func resume(t *testing.T, b sse.Broker, lastID string, topics ...string) ([]string, []int) {
	t.Helper()
	bl := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, LastEventID: lastID}).Backlog()
	return bl.ResyncTopics(), brokertest.Seqs(t, bl.Events)
}

// With more topics than HistoryMaxTopics, the topic published to least
// recently loses its history first: a resume on it is a resync, a resume on
// a kept topic replays its events.
func TestHistoryMaxTopics_evictsLeastRecentlyPublished(t *testing.T) {
	t.Parallel()
	b := newBroker(t, sse.BrokerOptions{HistoryMaxTopics: 3})
	first := brokertest.Publish(t, b, 1, "a")
	brokertest.Publish(t, b, 2, "b")
	brokertest.Publish(t, b, 3, "c")
	brokertest.Publish(t, b, 4, "a") // a is recent again: b is now the least recent
	brokertest.Publish(t, b, 5, "d") // a fourth topic: b goes
	if n := b.TopicCount(); n != 3 {
		t.Errorf("TopicCount = %d after 4 topics with HistoryMaxTopics 3, want 3", n)
	}
	tests := []struct {
		topics     []string
		wantResync []string
		wantEvents []int
	}{
		{[]string{"a"}, nil, []int{4}},
		{[]string{"b"}, []string{"b"}, []int{}},
		{[]string{"c"}, nil, []int{3}},
		{[]string{"d"}, nil, []int{5}},
		// b exists again (the resume on b above subscribed to it) but
		// still lost event 2.
		{[]string{"a", "b", "c", "d"}, []string{"b"}, []int{3, 4, 5}},
	}
	for _, tt := range tests {
		resync, events := resume(t, b, first, tt.topics...)
		if !slices.Equal(resync, tt.wantResync) || !slices.Equal(events, tt.wantEvents) {
			t.Errorf("resume %v from the first event: resync %v, events %v; want resync %v, events %v",
				tt.topics, resync, events, tt.wantResync, tt.wantEvents)
		}
	}
}

// kilobyte is a JSON payload of exactly 1024 bytes carrying n (see
// brokertest.Seq).
func kilobyte(n int) json.RawMessage {
	s := fmt.Sprintf(`{"n":%d,"pad":"`, n)
	return json.RawMessage(s + strings.Repeat("x", 1024-len(s)-2) + `"}`)
}

// publishKB publishes kilobyte(n) to topic and returns its id.
func publishKB(t *testing.T, b sse.Broker, n int, topic string) string {
	t.Helper()
	id, err := b.Publish(context.Background(), sse.Message{Topics: []string{topic}, Event: "test.event", Data: kilobyte(n)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// kbBytes is the estimate of one event of kilobyte data (with an id of
// the usual 15 bytes) in a history.
var kbBytes = memory.EventBytes(sse.Event{ID: "1700000000000-0", Name: "test.event", Data: kilobyte(0)})

// HistoryMaxBytes bounds the estimated bytes of the history: topics go,
// least recently published first, and when one topic alone is over the
// bound, its oldest events go.
func TestHistoryMaxBytes(t *testing.T) {
	t.Parallel()
	t.Run("topics", func(t *testing.T) {
		t.Parallel()
		perTopic := memory.TopicBytes("t0") + kbBytes
		b := newBroker(t, sse.BrokerOptions{HistoryMaxBytes: 3*perTopic + perTopic/2})
		first := publishKB(t, b, 0, "t0")
		for i := 1; i < 10; i++ {
			publishKB(t, b, i, fmt.Sprintf("t%d", i))
		}
		if n := b.TopicCount(); n != 3 {
			t.Errorf("TopicCount = %d, want the 3 topics that fit", n)
		}
		for i := range 10 {
			topic := fmt.Sprintf("t%d", i)
			resync, events := resume(t, b, first, topic)
			var wantResync []string
			wantEvents := []int{}
			switch {
			case i >= 7: // kept
				wantEvents = []int{i}
			case i > 0: // evicted; t0 lost only event 0, which the subscriber has
				wantResync = []string{topic}
			}
			if !slices.Equal(resync, wantResync) || !slices.Equal(events, wantEvents) {
				t.Errorf("resume on %s from event 0: resync %v, events %v; want resync %v, events %v", topic, resync, events, wantResync, wantEvents)
			}
		}
	})
	t.Run("one topic", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, sse.BrokerOptions{HistoryMaxBytes: memory.TopicBytes("x") + 2*kbBytes + kbBytes/2})
		var ids []string
		for i := range 5 {
			ids = append(ids, publishKB(t, b, i, "x"))
		}
		if resync, events := resume(t, b, ids[0], "x"); !slices.Equal(resync, []string{"x"}) || !slices.Equal(events, []int{3, 4}) {
			t.Errorf("resume on x from event 0: resync %v, events %v; want a resync of x and the 2 events that fit, 3 4", resync, events)
		}
		if resync, events := resume(t, b, ids[2], "x"); len(resync) != 0 || !slices.Equal(events, []int{3, 4}) {
			t.Errorf("resume on x from event 2: resync %v, events %v; want events 3 4", resync, events)
		}
	})
}

// A topic whose history is evicted keeps its subscribers: they receive
// its live events, and a resume on it from before the eviction is a resync.
func TestHistoryEviction_keepsSubscribers(t *testing.T) {
	t.Parallel()
	b := newBroker(t, sse.BrokerOptions{HistoryMaxTopics: 1})
	live := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"a"}})
	first := brokertest.Publish(t, b, 1, "a")
	brokertest.Publish(t, b, 2, "a")
	brokertest.Publish(t, b, 3, "b") // evicts a's history
	brokertest.Publish(t, b, 4, "a") // evicts b's
	if got := brokertest.Seqs(t, brokertest.Receive(t, live, 3)); !slices.Equal(got, []int{1, 2, 4}) {
		t.Errorf("the subscriber of a received %v, want 1 2 4", got)
	}
	if resync, events := resume(t, b, first, "a", "b"); !slices.Equal(resync, []string{"a", "b"}) || !slices.Equal(events, []int{4}) {
		t.Errorf("resume on a and b from event 1: resync %v, events %v; want a resync of both and event 4", resync, events)
	}
}

// IdempotencyMaxRecords bounds the idempotency records, oldest forgotten
// first: a retry of a forgotten publish publishes anew, a retry of a kept
// one answers the first id.
func TestIdempotencyMaxRecords(t *testing.T) {
	t.Parallel()
	b := newBroker(t, sse.BrokerOptions{IdempotencyMaxRecords: 2})
	publish := func(key string) string {
		t.Helper()
		id, err := b.Publish(context.Background(), sse.Message{Topics: []string{"a"}, Event: "e", Data: json.RawMessage(`1`), IdempotencyKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := map[string]string{}
	for _, key := range []string{"k1", "k2", "k3"} {
		first[key] = publish(key)
	}
	tests := []struct {
		key  string
		kept bool
	}{
		{"k3", true},
		{"k2", true},
		{"k1", false}, // the oldest, forgotten for k3; its retry records k1 again and forgets k2
		{"k1", true},
	}
	for _, tt := range tests {
		id := publish(tt.key)
		if got := id == first[tt.key]; got != tt.kept {
			t.Errorf("retry of %s: id %s, first id %s; want the first id: %v", tt.key, id, first[tt.key], tt.kept)
		}
		first[tt.key] = id
	}
}

// A resync says why the history does not reach back: eviction (the
// broker's bounds, also once the evicted topic is forgotten) or the
// topic's own count bound; and the oldest id still held.
func TestResyncReason(t *testing.T) {
	t.Parallel()
	reasons := func(b sse.Broker, lastID string, topics ...string) []sse.Resync {
		t.Helper()
		return brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, LastEventID: lastID}).Backlog().Resync
	}
	t.Run("evicted", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, sse.BrokerOptions{HistoryMaxTopics: 1})
		first := brokertest.Publish(t, b, 1, "a")
		brokertest.Publish(t, b, 2, "a")
		brokertest.Publish(t, b, 3, "b") // evicts a's history; a is forgotten
		four := brokertest.Publish(t, b, 4, "b")
		want := []sse.Resync{{Topic: "a", Reason: sse.ResyncEvicted}}
		if got := reasons(b, first, "a"); !slices.Equal(got, want) {
			t.Errorf("resume on forgotten a: Resync %+v, want %+v", got, want)
		}
		brokertest.Publish(t, b, 5, "a") // evicts b's history, a has one event again
		want = []sse.Resync{{Topic: "a", Reason: sse.ResyncEvicted}, {Topic: "b", Reason: sse.ResyncEvicted}}
		if got := reasons(b, first, "a", "b"); len(got) != 2 || got[0].Reason != want[0].Reason || got[1] != want[1] || got[0].Oldest == "" {
			t.Errorf("resume on a and b: Resync %+v, want %+v with a's oldest id", got, want)
		}
		if got := reasons(b, four, "b"); len(got) != 0 {
			t.Errorf("resume on b from its newest id: Resync %+v, want none", got)
		}
	})
	t.Run("history_exceeded", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, sse.BrokerOptions{HistorySize: 2})
		var ids []string
		for i := range 4 {
			ids = append(ids, brokertest.Publish(t, b, i, "x"))
		}
		want := []sse.Resync{{Topic: "x", Reason: sse.ResyncHistoryExceeded, Oldest: ids[2]}}
		if got := reasons(b, ids[0], "x"); !slices.Equal(got, want) {
			t.Errorf("resume from event 0 of 4 with HistorySize 2: Resync %+v, want %+v", got, want)
		}
	})
	t.Run("dataset_changed", func(t *testing.T) {
		t.Parallel()
		old := newBroker(t, sse.BrokerOptions{})
		id := brokertest.Publish(t, old, 0, "x")
		_ = old.Close() // returns after the millisecond of its last id
		b := newBroker(t, sse.BrokerOptions{})
		got := reasons(b, id, "x")
		g, err := streamid.Parse(func() string {
			if len(got) == 1 {
				return got[0].Genesis
			}
			return ""
		}())
		if p, _ := streamid.Parse(id); len(got) != 1 || got[0].Reason != sse.ResyncDatasetChanged || err != nil || !p.Less(g) {
			t.Errorf("resume from an id of another broker: Resync %+v, want dataset_changed with a genesis after %s", got, id)
		}
	})
}
