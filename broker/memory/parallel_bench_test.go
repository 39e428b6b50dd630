package memory_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// BenchmarkPublishParallelTopics publishes from GOMAXPROCS goroutines at
// once, each to its own topic with 1,000 subscribers: the figure of the
// README's Performance table for publishes to different topics, which
// proceed in parallel.
//
//	go test -run '^$' -bench PublishParallel -cpu 1,2 ./broker/memory/
func BenchmarkPublishParallelTopics(b *testing.B) {
	const (
		subscribers = 1000
		// drainEvery is how many events a publisher publishes before it
		// drains its topic's subscribers: below the queue size, so that no
		// subscription overflows and every publish is a full fan-out, and
		// within the buffer a drained queue keeps, so that draining does
		// not reallocate queues.
		drainEvery = 16
		queueSize  = 2 * drainEvery
	)
	m := memory.New(sse.BrokerOptions{})
	b.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()
	n := runtime.GOMAXPROCS(0) // RunParallel's goroutines: one topic each
	subs := make([][]sse.Subscription, n)
	for i := range subs {
		for range subscribers {
			s, err := m.Subscribe(ctx, sse.SubscribeRequest{Topics: []string{"parallel:" + strconv.Itoa(i)}, QueueSize: queueSize})
			if err != nil {
				b.Fatal(err)
			}
			subs[i] = append(subs[i], s)
		}
	}
	data := json.RawMessage(`{"n":1,"text":"a short event of the usual size"}`)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % n
		msg := sse.Message{Topics: []string{"parallel:" + strconv.Itoa(i)}, Event: "e", Data: data}
		var buf []sse.Event
		published := 0
		for pb.Next() {
			if _, err := m.Publish(ctx, msg); err != nil {
				b.Error(err)
				return
			}
			if published++; published%drainEvery == 0 {
				for _, s := range subs[i] {
					var err error
					if buf, err = s.Drain(buf[:0]); err != nil {
						b.Errorf("subscription ended: %v", err)
						return
					}
				}
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/subscribers, "ns/delivery")
}
