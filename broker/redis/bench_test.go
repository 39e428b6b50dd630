package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
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

// BenchmarkResumeStorm measures the reconnect storm of issue 17 on one
// broker: streams subscriptions on 100 topics resume at once from their
// topic's first event, each missing the events after it: 10,000 streams
// missing 99 (the measurement) and 19,000 missing 10 (its
// target). Each b.N is one storm on a fresh broker (a restarted hub); it
// reports the Subscribes that failed, the time until every Subscribe
// returned with its backlog, the p99 of one Subscribe, and the broker's
// peak heap during the storm.
//
//	go test -run '^$' -bench ResumeStorm -benchtime 3x ./broker/redis/
func BenchmarkResumeStorm(b *testing.B) {
	for _, shape := range []struct{ streams, missed int }{{10000, 99}, {19000, 10}} {
		b.Run(fmt.Sprintf("%dx%d", shape.streams, shape.missed), func(b *testing.B) {
			benchStorm(b, 100, shape.streams, shape.missed)
		})
	}
}

func benchStorm(b *testing.B, topics, streams, missed int) {
	srv := redistest.Start(b)
	ctx := context.Background()
	pub, err := sse.OpenBroker(ctx, srv.URL(), sse.BrokerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	first := make([]string, topics)
	for i := range topics {
		for n := range missed + 1 {
			id, err := pub.Publish(ctx, sse.Message{Topics: []string{"storm:" + strconv.Itoa(i)}, Event: "tick",
				Data: json.RawMessage(`{"n":` + strconv.Itoa(n) + `,"pad":"0123456789012345678901234567890123456789"}`)})
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				first[i] = id
			}
		}
	}
	var failed, wrong int
	var took time.Duration
	var peak uint64
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		recv, err := sse.OpenBroker(ctx, srv.URL(), sse.BrokerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := make(chan struct{})
		sampled := make(chan uint64)
		go func() { // the peak heap, sampled every 5 ms
			var m runtime.MemStats
			var top uint64
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapInuse)
				select {
				case <-stop:
					sampled <- top
					return
				case <-tick.C:
				}
			}
		}()
		subs := make([]sse.Subscription, streams)
		took1 := make([]time.Duration, streams)
		var wg sync.WaitGroup
		var nFailed, nWrong atomic.Int64
		start := time.Now()
		for i := range streams {
			wg.Go(func() {
				req := sse.SubscribeRequest{Topics: []string{"storm:" + strconv.Itoa(i%topics)}, LastEventID: first[i%topics]}
				t0 := time.Now()
				s, err := recv.Subscribe(ctx, req)
				took1[i] = time.Since(t0)
				if err != nil {
					nFailed.Add(1)
					return
				}
				if bl := s.Backlog(); len(bl.Events) != missed || len(bl.Resync) != 0 {
					nWrong.Add(1)
				}
				subs[i] = s
			})
		}
		wg.Wait()
		took += time.Since(start)
		lat = append(lat, took1...)
		close(stop)
		peak = max(peak, <-sampled)
		failed += int(nFailed.Load())
		wrong += int(nWrong.Load())
		for _, s := range subs {
			if s != nil {
				_ = s.Close()
			}
		}
		_ = recv.Close()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(failed)/float64(b.N), "failed/storm")
	b.ReportMetric(float64(wrong)/float64(b.N), "wrong-backlog/storm")
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms/storm")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-subscribe-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
