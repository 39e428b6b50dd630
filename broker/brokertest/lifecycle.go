package brokertest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// publishBound is how long one Publish may take while a subscriber is
// stuck: Publish must never wait for subscribers.
const publishBound = 2 * time.Second

func testSlowConsumer(t testing.TB, b sse.Broker) {
	const slowQueue, n = 4, 20
	topic := newTopics(t, 1)
	var dropped atomic.Int64
	slow := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, QueueSize: slowQueue,
		OnDrop: func(k int) { dropped.Add(int64(k)) }})
	fast := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, QueueSize: n})
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), publishBound)
		_, err := b.Publish(ctx, sse.Message{Topics: topic, Event: "test.event", Data: Data(i)})
		cancel()
		if err != nil {
			t.Fatalf("Publish %d with a stuck subscriber: %v", i, err)
		}
	}
	if got := Seqs(t, Receive(t, fast, n)); len(got) != n || got[0] != 0 || got[n-1] != n-1 {
		t.Fatalf("fast subscriber got %v", got)
	}
	if err := waitEnd(t, slow); !isEnd(err, sse.ErrSlowConsumer) {
		t.Fatalf("slow subscription ended with %v, want ErrSlowConsumer", err)
	}
	deadline := time.Now().Add(WaitTimeout)
	for dropped.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if dropped.Load() == 0 {
		t.Fatalf("OnDrop was not called")
	}
	// The broker goes on serving the topic.
	Publish(t, b, n, topic...)
	if got := Receive(t, fast, 1); Seq(t, got[0]) != n {
		t.Fatalf("fast subscriber got %v after the drop", describe(got))
	}
}

func testContextCancel(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := b.Subscribe(ctx, sse.SubscribeRequest{Topics: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	other := Subscribe(t, b, sse.SubscribeRequest{Topics: topic})
	Publish(t, b, 0, topic...)
	Receive(t, sub, 1)
	cancel()
	if err := waitEnd(t, sub); !isEnd(err, context.Canceled) {
		t.Fatalf("subscription ended with %v, want context.Canceled", err)
	}
	Publish(t, b, 1, topic...)
	if got := Seqs(t, Receive(t, other, 2)); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("other subscription got %v", got)
	}
}
