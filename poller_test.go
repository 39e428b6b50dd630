package ssevents_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// rawStream is a subscriber on a bare TCP connection: it costs the test
// process no goroutine, so the server's goroutines can be counted.
type rawStream struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialStream(t *testing.T, addr, query string) *rawStream {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /events?%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", query); err != nil {
		t.Fatal(err)
	}
	s := &rawStream{conn: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := s.r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("status %q, %v", status, err)
	}
	for { // headers
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	if line, err := s.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q, %v; want the retry line", line, err)
	}
	return s
}

// next reads the next event, skipping comments.
func (s *rawStream) next(t *testing.T) wire.Event {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ev wire.Event
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading an event: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && (ev.Data != "" || ev.Name != ""):
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		}
	}
}

// TestIdleStreamsHoldNoGoroutineOnThePoller opens the same streams on both
// I/O paths: on the poller, they add no goroutine per stream; on the
// goroutine path, two each. Both deliver every event.
func TestIdleStreamsHoldNoGoroutineOnThePoller(t *testing.T) {
	const n = 200
	for _, tc := range []struct {
		name       string
		disable    bool
		maxPerConn float64
		minPerConn float64
	}{
		{"poller", false, 0, 0},
		{"goroutines", true, 3, 1.9},
	} {
		if !tc.disable && (ssevents.GoroutinePathOnly() || runtime.GOOS != "linux") {
			// This run (SSE_POLLER=false) keeps every stream off the
			// poller, and the default run covers it; off Linux there is
			// no poller.
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			app, srv := newServer(t, ssevents.Config{DisablePoller: tc.disable})
			addr := strings.TrimPrefix(srv.URL, "http://")
			dialStream(t, addr, "topic=warmup") // starts the poller and the heartbeat scheduler
			waitFor(t, "the warm-up stream", 5*time.Second, func() bool { return app.Events().Connections() == 1 })
			time.Sleep(50 * time.Millisecond)
			before := runtime.NumGoroutine()
			streams := make([]*rawStream, n)
			for i := range streams {
				streams[i] = dialStream(t, addr, "topic=room")
			}
			waitFor(t, "streams", 5*time.Second, func() bool { return app.Events().Connections() == n+1 })
			// A stream's request goroutine returns once the stream is taken
			// over (and handed to the poller): wait for the count to settle.
			perConn := func() float64 { return float64(runtime.NumGoroutine()-before) / n }
			if tc.disable {
				waitFor(t, "about 2 goroutines per stream", 5*time.Second, func() bool { p := perConn(); return p >= tc.minPerConn && p <= tc.maxPerConn })
				if got := app.Events().PolledStreams(); got != 0 {
					t.Fatalf("%d streams on the poller with DisablePoller", got)
				}
			} else {
				waitFor(t, "every stream on the poller", 5*time.Second, func() bool { return app.Events().PolledStreams() == n+1 })
				waitFor(t, "no goroutine per stream", 5*time.Second, func() bool { return perConn() <= 0.05 })
			}
			for i := range 3 {
				id, err := app.PublishMessage(context.Background(), sse.Message{Topics: []string{"room"}, Event: "tick", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
				if err != nil {
					t.Fatal(err)
				}
				for j, s := range streams {
					ev := s.next(t)
					if ev.ID != id || ev.Name != "tick" || ev.Data != fmt.Sprintf(`{"i":%d}`, i) {
						t.Fatalf("stream %d got %+v, want id %s tick {\"i\":%d}", j, ev, id, i)
					}
				}
			}
			// Clients leave: every stream ends and gives back its slot.
			for _, s := range streams {
				s.conn.Close()
			}
			waitFor(t, "streams to end", 5*time.Second, func() bool { return app.Events().Connections() == 1 })
			if !tc.disable {
				waitFor(t, "poller to release them", 5*time.Second, func() bool { return app.Events().PolledStreams() == 1 })
			}
		})
	}
}

// TestQueueBytesBoundDropsOnlyTheSlowStream fills a stream that never
// reads with events far larger than its byte bound allows: it is dropped
// and counted, while a reading stream on the same topic gets every event.
func TestQueueBytesBoundDropsOnlyTheSlowStream(t *testing.T) {
	app, srv := newServer(t, ssevents.Config{MaxQueueBytes: 64 << 10, MaxQueueSize: 100_000, WriteTimeout: time.Minute})
	addr := strings.TrimPrefix(srv.URL, "http://")
	slow := dialStream(t, addr, "topic=big")
	_ = slow.conn.(*net.TCPConn).SetReadBuffer(4096)
	fast := dialStream(t, addr, "topic=big")
	data := []byte(`"` + strings.Repeat("x", 16<<10) + `"`)
	// 9.6 MB, one event at a time as the reading stream takes them: past
	// the slow stream's socket buffers and its 64 KiB queue.
	const events = 600
	for i := range events {
		if _, err := app.PublishMessage(context.Background(), sse.Message{Topics: []string{"big"}, Event: "blob", Data: data}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ev := fast.next(t); ev.Name != "blob" {
			t.Fatalf("fast stream event %d: %+v", i, ev)
		}
	}
	waitFor(t, "the slow stream to be dropped", 10*time.Second, func() bool { return app.Events().Connections() == 1 })
	if got := app.Metrics().Snapshot().Connections.SlowDisconnected; got != 1 {
		t.Fatalf("slow streams disconnected = %d, want 1", got)
	}
}

// TestHeartbeatsOnBothIOPaths keeps a stream idle on each I/O path: the
// handler's one heartbeat scheduler wakes it, as a comment or, with
// HeartbeatEvent, as a heartbeat event; a published event still arrives
// between heartbeats.
func TestHeartbeatsOnBothIOPaths(t *testing.T) {
	for _, tc := range []struct {
		name           string
		disablePoller  bool
		heartbeatEvent bool
	}{
		{"poller/comment", false, false},
		{"poller/event", false, true},
		{"goroutines/comment", true, false},
		{"goroutines/event", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A Handler of its own: Config.Validate (through New) keeps
			// heartbeats at 5 s or more, too slow for a test.
			b := memory.New(sse.BrokerOptions{})
			t.Cleanup(func() { b.Close() })
			h := ssevents.NewHandler(ssevents.Config{DisablePoller: tc.disablePoller, HeartbeatInterval: 100 * time.Millisecond, HeartbeatEvent: tc.heartbeatEvent}, b, nil)
			mux := http.NewServeMux()
			mux.Handle("/events", h)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			t.Cleanup(func() { h.Close() })
			s := dialStream(t, strings.TrimPrefix(srv.URL, "http://"), "topic=quiet")
			if !tc.disablePoller && !ssevents.GoroutinePathOnly() && runtime.GOOS == "linux" {
				// Handed over just after its retry line was written.
				waitFor(t, "the stream on the poller", 5*time.Second, func() bool { return h.PolledStreams() == 1 })
			}
			beats := 0
			deadline := time.Now().Add(5 * time.Second)
			for beats < 3 {
				_ = s.conn.SetReadDeadline(deadline)
				line, err := s.r.ReadString('\n')
				if err != nil {
					t.Fatalf("after %d heartbeats: %v", beats, err)
				}
				switch {
				case !tc.heartbeatEvent && line == ": heartbeat\n":
					beats++
				case tc.heartbeatEvent && line == "event: heartbeat\n":
					beats++
				case strings.HasPrefix(line, "event: "):
					t.Fatalf("unexpected %q on an idle stream", line)
				}
			}
			id, err := b.Publish(context.Background(), sse.Message{Topics: []string{"quiet"}, Event: "tick", Data: []byte(`1`)})
			if err != nil {
				t.Fatal(err)
			}
			for {
				ev := s.next(t)
				if ev.ID == "" {
					continue // a heartbeat (or the rest of one): they carry no id
				}
				if ev.ID != id || ev.Name != "tick" {
					t.Fatalf("got %+v, want the published tick %s", ev, id)
				}
				break
			}
		})
	}
}
