package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// publishKey publishes event n on topics with an idempotency key.
func publishKey(t testing.TB, b sse.Broker, key string, n int, topics ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	id, err := b.Publish(ctx, sse.Message{Topics: topics, Event: "test.event", Data: Data(n), IdempotencyKey: key})
	if err != nil {
		t.Fatalf("Publish(%v, %d, key %q): %v", topics, n, key, err)
	}
	return id
}

// testIdempotency checks that a retry with the same key and topics returns
// the first publish's id and publishes nothing, that another topic or key
// publishes anew, and that the key is forgotten after HistoryAge.
func testIdempotency(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics})
	start := time.Now()
	id := publishKey(t, b, "retry-1", 1, topics[0])
	for range 3 {
		if again := publishKey(t, b, "retry-1", 2, topics[0]); again != id {
			t.Fatalf("retry with the same key returned id %s, want the first publish's %s", again, id)
		}
	}
	other := publishKey(t, b, "retry-1", 3, topics[1]) // same key, another topic
	third := publishKey(t, b, "retry-2", 4, topics[0]) // another key
	multi := publishKey(t, b, "retry-3", 5, topics[1], topics[2])
	if again := publishKey(t, b, "retry-3", 6, topics[2], topics[1]); again != multi {
		t.Fatalf("retry of a multi-topic publish (topics reordered) returned %s, want %s", again, multi)
	}
	// Events of different topics may arrive in any order on a cluster.
	got := Receive(t, sub, 4)
	byN := map[int]string{}
	for _, ev := range got {
		byN[Seq(t, ev)] = ev.ID
	}
	if len(byN) != 4 || byN[1] != id || byN[3] != other || byN[4] != third || byN[5] == "" {
		t.Fatalf("received %v, want the events 1 (%s), 3 (%s), 4 (%s) and 5 once each", describe(got), id, other, third)
	}
	expectQuiet(t, sub)

	// After HistoryAge the key is forgotten: the same key publishes anew.
	time.Sleep(time.Until(start.Add(HistoryAge + 200*time.Millisecond)))
	if late := publishKey(t, b, "retry-1", 7, topics[0]); late == id {
		t.Fatalf("key reused after HistoryAge returned the old id %s", id)
	}
	if got := Receive(t, sub, 1); Seq(t, got[0]) != 7 {
		t.Fatalf("after HistoryAge received %v, want event 7", describe(got))
	}
	expectQuiet(t, sub)
}
