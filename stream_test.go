package ssevents_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents"
)

// flushRecorder is a ResponseWriter whose body can be read while the
// handler writes (httptest.ResponseRecorder cannot be read concurrently).
type flushRecorder struct {
	mu      sync.Mutex
	header  http.Header
	body    bytes.Buffer
	status  int
	writes  int
	flushes int
	// When entered is set, each write is announced on it and then waits
	// for a value on release (or for gone to close), like a write to a
	// slow network.
	entered chan string
	release chan struct{}
	gone    chan struct{}
}

func (f *flushRecorder) Header() http.Header { return f.header }
func (f *flushRecorder) WriteHeader(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}
func (f *flushRecorder) Write(b []byte) (int, error) {
	if f.entered != nil {
		select {
		case f.entered <- string(b):
			select {
			case <-f.release:
			case <-f.gone:
			}
		case <-f.gone:
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.body.Write(b)
}
func (f *flushRecorder) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
}
func (f *flushRecorder) counts() (writes, flushes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.flushes
}
func (f *flushRecorder) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body.String()
}

// serveInBubble runs the SSE handler for one request in a synctest bubble
// and returns the recorder and a function that ends the stream.
func serveInBubble(t *testing.T, cfg ssevents.Config, query string) (*ssevents.App, *flushRecorder, func()) {
	t.Helper()
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &flushRecorder{header: http.Header{}}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events?"+query, nil)
	done := make(chan struct{})
	go func() {
		app.ServeHTTP(rec, req)
		close(done)
	}()
	return app, rec, func() {
		cancel()
		<-done
		app.Close()
	}
}

func TestHeartbeatOnIdleStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   ssevents.Config
		every time.Duration
		want  string
	}{
		{"default comment every 15s", ssevents.Config{}, 15 * time.Second, ": heartbeat\n"},
		{"5s", ssevents.Config{HeartbeatInterval: 5 * time.Second}, 5 * time.Second, ": heartbeat\n"},
		{"named event", ssevents.Config{HeartbeatInterval: 20 * time.Second, HeartbeatEvent: true}, 20 * time.Second, "event: heartbeat\ndata: {\"time\":\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, rec, stop := serveInBubble(t, tc.cfg, "topic=a")
				defer stop()
				synctest.Wait()
				if got := rec.String(); !isRetryLine(got) {
					t.Fatalf("stream starts with %q", got)
				}
				time.Sleep(tc.every - time.Millisecond)
				synctest.Wait()
				if strings.Contains(rec.String(), "heartbeat") {
					t.Fatalf("heartbeat before %v", tc.every)
				}
				time.Sleep(2 * time.Millisecond)
				synctest.Wait()
				if got := strings.Count(rec.String(), tc.want); got != 1 {
					t.Fatalf("after %v: %d heartbeats %q in %q", tc.every, got, tc.want, rec.String())
				}
				time.Sleep(3 * tc.every)
				synctest.Wait()
				if got := strings.Count(rec.String(), tc.want); got != 4 {
					t.Fatalf("after 4 intervals: %d heartbeats in %q", got, rec.String())
				}
			})
		})
	}
}

func TestNoHeartbeatOnBusyStream(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		app, rec, stop := serveInBubble(t, ssevents.Config{HeartbeatInterval: 10 * time.Second}, "topic=a")
		defer stop()
		synctest.Wait()
		for i := 0; i < 10; i++ {
			time.Sleep(4 * time.Second)
			if _, err := app.Publish(context.Background(), "a", "tick", i); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if strings.Contains(rec.String(), "heartbeat") {
			t.Fatalf("a stream that gets an event every 4s got a heartbeat: %q", rec.String())
		}
		if got := strings.Count(rec.String(), "event: tick\n"); got != 10 {
			t.Fatalf("%d events, want 10", got)
		}
	})
}

func TestQueuedEventsGoOutInOneWriteAndOneFlush(t *testing.T) {
	t.Parallel()
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &flushRecorder{header: http.Header{}, entered: make(chan string), release: make(chan struct{}), gone: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		app.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/events?topic=a", nil))
		close(done)
	}()
	defer func() { close(rec.gone); cancel(); <-done }()
	next := func() string {
		t.Helper()
		select {
		case w := <-rec.entered:
			return w
		case <-time.After(5 * time.Second):
			t.Fatal("no write")
			return ""
		}
	}
	if w := next(); !isRetryLine(w) {
		t.Fatalf("first write %q", w)
	}
	rec.release <- struct{}{}
	publish(t, app, "a", "e", 0)
	first := next() // the stream is now stuck in this write, as on a slow network
	// Nine more arrive while it is stuck: they wait in its queue and
	// leave together, in one write and one flush.
	for i := 1; i < 10; i++ {
		publish(t, app, "a", "e", i)
	}
	rec.release <- struct{}{}
	second := next()
	rec.release <- struct{}{}
	if n1, n2 := strings.Count(first, "event: e\n"), strings.Count(second, "event: e\n"); n1 != 1 || n2 != 9 {
		t.Fatalf("writes held %d and %d events, want 1 and 9", n1, n2)
	}
	waitFor(t, "the flush", time.Second, func() bool { _, f := rec.counts(); return f == 3 })
	if w, f := rec.counts(); w != 3 || f != 3 {
		t.Fatalf("%d writes and %d flushes, want 3 and 3 (retry, 1 event, 9 events)", w, f)
	}
}
