package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// A publish completes while the broker is fanning an event out to its
// local subscribers: the fan-out is held inside a subscriber's OnDrop,
// which the broker calls from its delivery loop, and a publish to another
// topic from the same broker still returns.
func TestPublishDuringFanOut(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := open(t, srv.URL()+"?timeout="+testTimeout, sse.BrokerOptions{})
	inFanOut, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"fanout:a"}, QueueSize: 1, OnDrop: func(int) {
		once.Do(func() { close(inFanOut); <-release })
	}})
	onA := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"fanout:a"}})
	// Cleanups run last first: this one before the subscriptions' Close
	// and the broker's, which wait for the held fan-out.
	t.Cleanup(unblock)
	brokertest.Publish(t, b, 1, "fanout:a")
	brokertest.Publish(t, b, 2, "fanout:a") // overflows the stuck subscriber's queue
	select {
	case <-inFanOut:
	case <-time.After(brokertest.WaitTimeout):
		t.Fatal("the fan-out of event 2 never reached the stuck subscriber")
	}
	published := make(chan error, 1)
	go func() {
		_, err := b.Publish(context.Background(), sse.Message{Topics: []string{"fanout:b"}, Event: "test.event", Data: brokertest.Data(3)})
		published <- err
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Fatalf("publish during the fan-out: %v", err)
		}
	case <-time.After(brokertest.WaitTimeout):
		t.Fatal("a publish to another topic waited for the fan-out")
	}
	unblock()
	if got := brokertest.Seqs(t, brokertest.Receive(t, onA, 2)); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("the other subscriber of fanout:a received %v, want 1 2", got)
	}
}
