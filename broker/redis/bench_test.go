package redis_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// BenchmarkPublish measures publish throughput through Redis from one
// instance with concurrent publishers (GOMAXPROCS*8 goroutines) over 16
// topics.
//
//	go test -run '^$' -bench Publish -benchtime 20000x ./broker/redis/
func BenchmarkPublish(b *testing.B) {
	srv := redistest.Start(b)
	br, err := sse.OpenBroker(context.Background(), srv.URL(), sse.BrokerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	payload := json.RawMessage(`{"id":42,"status":"closed","by":"someone@example.com"}`)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			msg := sse.Message{Topics: []string{"bench:" + strconv.FormatInt(i%16, 10)}, Event: "ticket_updated", Data: payload}
			if _, err := br.Publish(context.Background(), msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkLatency measures publish-to-receive latency across two
// instances on one Redis at about 1,000 events/s: each b.N is one event;
// use a fixed count.
//
//	go test -run '^$' -bench Latency -benchtime 3000x ./broker/redis/
func BenchmarkLatency(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	pub, err := sse.OpenBroker(ctx, srv.URL(), sse.BrokerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	recv, err := sse.OpenBroker(ctx, srv.URL(), sse.BrokerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	sub, err := recv.Subscribe(ctx, sse.SubscribeRequest{Topics: []string{"lat"}, QueueSize: 10000})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var evs []sse.Event
		for len(lat) < b.N {
			<-sub.Notify()
			var err error
			if evs, err = sub.Drain(evs[:0]); err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			for _, ev := range evs {
				var v struct{ T int64 }
				_ = json.Unmarshal(ev.Data, &v)
				lat = append(lat, now.Sub(time.Unix(0, v.T)))
			}
		}
	}()
	tick := time.NewTicker(time.Millisecond) // ~1,000 events/s
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		data := json.RawMessage(`{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}`)
		if _, err := pub.Publish(ctx, sse.Message{Topics: []string{"lat"}, Event: "tick", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.Fatalf("received %d of %d", len(lat), b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
