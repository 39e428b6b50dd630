package ssevents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// BenchmarkPublishFanout publishes one event to n local subscribers of one
// topic; each op is one publish delivered into every subscriber's queue,
// plus its share of draining the queues the way SSE handlers do.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			broker := memory.New(sse.BrokerOptions{})
			defer broker.Close()
			subs := make([]sse.Subscription, n)
			for i := range subs {
				s, err := broker.Subscribe(ctx, sse.SubscribeRequest{Topics: []string{"ticket:42"}})
				if err != nil {
					b.Fatal(err)
				}
				subs[i] = s
			}
			pub := ssevents.NewPublisher(broker, 0, nil)
			data := json.RawMessage(`{"id":42,"status":"closed","by":"user:7"}`)
			buf := make([]sse.Event, 0, 64)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := pub.Publish(ctx, "ticket:42", "ticket_status_changed", data); err != nil {
					b.Fatal(err)
				}
				if i++; i%16 == 0 { // a handler drains its queue whenever woken; batches of 16 model a busy topic
					for _, s := range subs {
						buf, _ = s.Drain(buf[:0])
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// BenchmarkPublishParallel measures publishes from many goroutines to
// distinct topics with one subscriber each.
func BenchmarkPublishParallel(b *testing.B) {
	broker := memory.New(sse.BrokerOptions{})
	defer broker.Close()
	pub := ssevents.NewPublisher(broker, 0, nil)
	data := json.RawMessage(`{"id":42}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := pub.Publish(ctx, "dashboard", "tick", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
