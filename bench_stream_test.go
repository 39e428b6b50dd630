package ssevents_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssevents/ssevents"
)

// countingWriter is a ResponseWriter that keeps nothing and counts the
// streams that started (their retry line is written once subscribed) and
// the events written to it, for benchmarks of the stream write path.
type countingWriter struct {
	header http.Header
	opened *atomic.Int64
	events *atomic.Int64
}

func (c *countingWriter) Header() http.Header { return c.header }
func (c *countingWriter) WriteHeader(int)     {}
func (c *countingWriter) Flush()              {}
func (c *countingWriter) Write(p []byte) (int, error) {
	c.opened.Add(int64(bytes.Count(p, []byte("retry:"))))
	c.events.Add(int64(bytes.Count(p, []byte("event: tick\n"))))
	return len(p), nil
}

// BenchmarkBroadcastToStreams publishes one event to n open SSE streams of
// one topic; each op lasts until every stream has written the event, so
// it measures the whole write path: fan-out, encoding and writing. With
// topics=2 each stream has a second topic, so each event carries a topic
// line ("topic: t"), spliced into the shared encoding per stream.
func BenchmarkBroadcastToStreams(b *testing.B) {
	for _, c := range []struct {
		n     int
		query string
	}{
		{100, "topic=t"}, {1_000, "topic=t"}, {5_000, "topic=t"},
		{1_000, "topic=t,other"}, {5_000, "topic=t,other"},
	} {
		name := fmt.Sprintf("streams=%d", c.n)
		if c.query != "topic=t" {
			name += ",topics=2"
		}
		n := c.n
		b.Run(name, func(b *testing.B) {
			app, err := ssevents.New(ssevents.Config{MaxConnections: n})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var opened, written atomic.Int64
			var wg sync.WaitGroup
			for range n {
				w := &countingWriter{header: http.Header{}, opened: &opened, events: &written}
				req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events?"+c.query, nil)
				wg.Go(func() { app.ServeHTTP(w, req) })
			}
			// Every stream subscribed (it wrote its retry line): a publish
			// now owes each of them the event. (A connection slot is taken
			// before the subscription, so Connections() is too early.)
			for opened.Load() < int64(n) {
				runtime.Gosched()
			}
			data := map[string]any{"id": 42, "status": "closed", "by": "user:7", "note": "a payload of a typical size for a status change"}
			b.ReportAllocs()
			var want int64
			for b.Loop() {
				if _, err := app.Publish(ctx, "t", "tick", data); err != nil {
					b.Fatal(err)
				}
				want += int64(n)
				for written.Load() < want {
					runtime.Gosched()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			cancel()
			wg.Wait()
			app.Close()
		})
	}
}
