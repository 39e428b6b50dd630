package brokertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// publishKey publishes event n on topics with an idempotency key.
func publishKey(t testing.TB, b sse.Broker, key string, n int, topics ...string) string {
	t.Helper()
	id, err := tryPublishKey(b, sse.Message{Topics: topics, Event: "test.event", Data: Data(n), IdempotencyKey: key})
	if err != nil {
		t.Fatalf("Publish(%v, %d, key %q): %v", topics, n, key, err)
	}
	return id
}

// tryPublishKey publishes msg and returns what the broker answered.
func tryPublishKey(b sse.Broker, msg sse.Message) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	return b.Publish(ctx, msg)
}

// wantKeyError fails the test unless err is an *sse.IdempotencyKeyError
// for key that matches want.
func wantKeyError(t testing.TB, what string, id string, err error, key string, want error) {
	t.Helper()
	var ke *sse.IdempotencyKeyError
	if !errors.Is(err, want) || !errors.As(err, &ke) || ke.Key != key {
		t.Fatalf("%s: Publish = %q, %v; want an *sse.IdempotencyKeyError for key %q matching %v", what, id, err, key, want)
	}
}

// testIdempotency checks that a retry with the same key and request
// (topics in any order) returns the first publish's id and publishes
// nothing, that another key publishes anew, and that the key is forgotten
// after HistoryAge.
func testIdempotency(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics})
	start := time.Now()
	id := publishKey(t, b, "retry-1", 1, topics[0])
	for range 3 {
		if again := publishKey(t, b, "retry-1", 1, topics[0]); again != id {
			t.Fatalf("retry with the same key returned id %s, want the first publish's %s", again, id)
		}
	}
	third := publishKey(t, b, "retry-2", 4, topics[0]) // another key
	multi := publishKey(t, b, "retry-3", 5, topics[1], topics[2])
	if again := publishKey(t, b, "retry-3", 5, topics[2], topics[1]); again != multi {
		t.Fatalf("retry of a multi-topic publish (topics reordered) returned %s, want %s", again, multi)
	}
	// Events of different topics may arrive in any order on a cluster.
	got := Receive(t, sub, 3)
	byN := map[int]string{}
	for _, ev := range got {
		byN[Seq(t, ev)] = ev.ID
	}
	if len(byN) != 3 || byN[1] != id || byN[4] != third || byN[5] == "" {
		t.Fatalf("received %v, want the events 1 (%s), 4 (%s) and 5 once each", describe(got), id, third)
	}
	expectQuiet(t, sub)

	// After HistoryAge the key is forgotten: the same key publishes anew,
	// even another request.
	time.Sleep(time.Until(start.Add(HistoryAge + 200*time.Millisecond)))
	if late := publishKey(t, b, "retry-1", 7, topics[0]); late == id {
		t.Fatalf("key reused after HistoryAge returned the old id %s", id)
	}
	if got := Receive(t, sub, 1); Seq(t, got[0]) != 7 {
		t.Fatalf("after HistoryAge received %v, want event 7", describe(got))
	}
	expectQuiet(t, sub)
}

// testIdempotencyKeyReused checks that the key of a publish reused for
// another request (other data, event or topics) is refused with
// ErrIdempotencyKeyReused naming the key, publishes nothing, and leaves
// the record as it was: a retry of the first request still answers its id.
func testIdempotencyKeyReused(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics})
	const key = "reused-1"
	first := sse.Message{Topics: topics[:2], Event: "test.event", Data: Data(1), IdempotencyKey: key}
	id, err := tryPublishKey(b, first)
	if err != nil {
		t.Fatalf("Publish(%+v): %v", first, err)
	}
	tests := []struct {
		name   string
		change func(*sse.Message)
	}{
		{"OtherData", func(m *sse.Message) { m.Data = Data(2) }},
		{"OtherEvent", func(m *sse.Message) { m.Event = "test.other" }},
		{"OtherTopic", func(m *sse.Message) { m.Topics = []string{topics[0], topics[2]} }},
		{"FewerTopics", func(m *sse.Message) { m.Topics = topics[1:2] }},
		{"MoreTopics", func(m *sse.Message) { m.Topics = topics }},
	}
	for _, tt := range tests {
		msg := first
		tt.change(&msg)
		got, err := tryPublishKey(b, msg)
		wantKeyError(t, tt.name, got, err, key, sse.ErrIdempotencyKeyReused)
	}
	retry := first
	retry.Topics = []string{topics[1], topics[0]}
	if again, err := tryPublishKey(b, retry); err != nil || again != id {
		t.Fatalf("retry of the first request after refused reuses = %q, %v; want its id %s", again, err, id)
	}
	if got := Receive(t, sub, 1); got[0].ID != id || Seq(t, got[0]) != 1 {
		t.Fatalf("received %v, want only the first event (%s)", describe(got), id)
	}
	expectQuiet(t, sub)
}
