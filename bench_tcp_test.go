package ssevents_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssevents/ssevents"
)

// BenchmarkBroadcastToTCPStreams is BenchmarkBroadcastToStreams over real
// loopback connections, so the streams are taken over and written the
// way a hub writes them (by the poller on Linux, with one writev per
// batch; a goroutine per stream elsewhere). Each op publishes one event
// and lasts until every client has read it. The shapes: s0, streams of
// one topic (no topic line), and s2, streams of two topics (each event
// carries "topic: t", a third buffer in the writev).
func BenchmarkBroadcastToTCPStreams(b *testing.B) {
	for _, c := range []struct {
		shape, query string
		n            int
	}{
		{"s0", "t", 1_000}, {"s2", "t,other", 1_000},
		{"s0", "t", 4_000}, {"s2", "t,other", 4_000},
	} {
		b.Run(fmt.Sprintf("%s/streams=%d", c.shape, c.n), func(b *testing.B) {
			app, err := ssevents.New(ssevents.Config{MaxConnections: c.n})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(app)
			ctx, cancel := context.WithCancel(context.Background())
			var opened, read atomic.Int64
			var wg sync.WaitGroup
			req := "GET /events?topic=" + c.query + " HTTP/1.1\r\nHost: x\r\n\r\n"
			for range c.n {
				conn, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				context.AfterFunc(ctx, func() { _ = conn.Close() })
				if _, err := conn.Write([]byte(req)); err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					br := bufio.NewReader(conn)
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						switch {
						case strings.HasPrefix(string(line), "retry:"):
							opened.Add(1)
						case string(line) == "event: tick\n":
							read.Add(1)
						}
					}
				})
			}
			for opened.Load() < int64(c.n) {
				runtime.Gosched()
			}
			data := map[string]any{"id": 42, "status": "closed", "by": "user:7", "note": "a payload of a typical size for a status change"}
			b.ReportAllocs()
			var want int64
			for b.Loop() {
				if _, err := app.Publish(ctx, "t", "tick", data); err != nil {
					b.Fatal(err)
				}
				want += int64(c.n)
				for read.Load() < want {
					runtime.Gosched()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.n), "ns/delivery")
			cancel()
			app.Close()
			srv.Close()
			wg.Wait()
		})
	}
}
