package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// pipeTransport serves requests with a handler over an io.Pipe, inside the
// synctest bubble: unlike a socket, a pipe blocks durably, so the bubble's
// fake clock advances while a stream waits.
type pipeTransport struct{ h http.Handler }

func (t pipeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		t.h.ServeHTTP(w, req)
		w.WriteHeader(http.StatusOK)
		_ = pw.Close()
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		_ = pr.Close()
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: w.status, Header: w.sent, Body: pr, Request: req}, nil
}

// pipeWriter is the http.ResponseWriter of pipeTransport.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status, w.sent = status, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

func (w *pipeWriter) Flush() {}

// requestLog records when each request arrived, on the bubble's clock.
type requestLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *requestLog) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.times = append(l.times, time.Now())
		l.mu.Unlock()
		h(w, r)
	})
}

func (l *requestLog) gaps() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(l.times); i++ {
		g = append(g, l.times[i].Sub(l.times[i-1]))
	}
	return g
}

func pipeClient(t *testing.T, h http.Handler, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL = "http://hub.test"
	cfg.HTTPClient = &http.Client{Transport: pipeTransport{h}}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runFor subscribes for d of bubble time and returns what Subscribe
// returned.
func runFor(c *client.Client, d time.Duration, opts ...client.SubscribeOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Subscribe(ctx, []string{"t"}, func(client.Event) error { return nil }, opts...)
}

func TestClientBackoffHonoursRetry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log requestLog
		// Every stream says retry: 2000 and ends at once.
		h := log.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(wire.AppendRetry(nil, 2*time.Second))
		})
		initial, maxB := 100*time.Millisecond, 400*time.Millisecond
		c := pipeClient(t, h, client.Config{BackoffInitial: initial, BackoffMax: maxB})
		_ = runFor(c, time.Minute)
		gaps := log.gaps()
		if len(gaps) < 10 {
			t.Fatalf("%d reconnections in a minute, want at least 10 at about 2 s each", len(gaps))
		}
		distinct := map[time.Duration]bool{}
		for n, g := range gaps {
			ceiling := min(maxB, initial<<n)
			if g < 2*time.Second || g > 2*time.Second+ceiling {
				t.Errorf("gap %d = %v, want between 2s (retry) and 2s+%v", n, g, ceiling)
			}
			distinct[g] = true
		}
		if len(distinct) < len(gaps)/2 {
			t.Errorf("gaps %v are too regular for full jitter", gaps)
		}
	})
}

func TestClientBackoffGrowsOnErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log requestLog
		h := log.wrap(func(w http.ResponseWriter, r *http.Request) {
			ssevents.WriteError(w, r, nil, sse.ErrUnavailable)
		})
		initial, maxB := 100*time.Millisecond, 3*time.Second
		c := pipeClient(t, h, client.Config{BackoffInitial: initial, BackoffMax: maxB})
		var states []client.ConnState
		_ = runFor(c, 30*time.Second, client.OnConnState(func(cs client.ConnState) { states = append(states, cs) }))
		gaps := log.gaps()
		var late time.Duration
		for n, g := range gaps {
			if ceiling := min(maxB, initial<<n); g > ceiling {
				t.Errorf("gap %d = %v, over the ceiling %v", n, g, ceiling)
			}
			if n >= 5 {
				late = max(late, g)
			}
		}
		if late <= initial {
			t.Errorf("later gaps never exceeded %v: the backoff does not grow (gaps %v)", initial, gaps)
		}
		for i, cs := range states[:len(states)-1] {
			var se *client.StatusError
			if cs.Connected || cs.Attempt != i || !errors.As(cs.Err, &se) || se.StatusCode != 503 {
				t.Errorf("state %d = %+v, want attempt %d failing with a 503", i, cs, i)
			}
		}
	})
}

func TestClientHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log requestLog
		h := log.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "5")
			ssevents.WriteError(w, r, nil, sse.ErrTooManyConnections)
		})
		c := pipeClient(t, h, client.Config{BackoffInitial: 10 * time.Millisecond})
		_ = runFor(c, 12*time.Second)
		for n, g := range log.gaps() {
			if g < 5*time.Second {
				t.Errorf("gap %d = %v, want at least the Retry-After of 5s", n, g)
			}
		}
	})
}

func TestClientDetectsDeadConnection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log requestLog
		// The server accepts the stream, then never sends a byte again.
		h := log.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(wire.AppendRetry(nil, 0))
			<-r.Context().Done()
		})
		c := pipeClient(t, h, client.Config{HeartbeatInterval: 5 * time.Second, MissedHeartbeats: 3, BackoffInitial: 10 * time.Millisecond})
		var errs []error
		_ = runFor(c, 40*time.Second, client.OnConnState(func(cs client.ConnState) {
			if !cs.Connected {
				errs = append(errs, cs.Err)
			}
		}))
		gaps := log.gaps()
		if len(gaps) != 2 {
			t.Fatalf("gaps between connections %v, want 2 of about 15 s in 40 s", gaps)
		}
		for n, g := range gaps {
			// Connections that deliver nothing count as failed attempts,
			// so the jitter ceiling doubles: 10 ms, then 20 ms.
			if g < 15*time.Second || g > 15*time.Second+10*time.Millisecond<<n {
				t.Errorf("reconnected after %v, want 15s (3 missed heartbeats of 5s) plus backoff", g)
			}
		}
		if len(errs) == 0 || !errors.Is(errs[0], client.ErrDeadConnection) {
			t.Errorf("first disconnection reported %v, want ErrDeadConnection", errs)
		}
	})
}

func TestClientHeartbeatsKeepConnectionAlive(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		app, err := ssevents.New(ssevents.Config{HeartbeatInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		var log requestLog
		h := log.wrap(app.ServeHTTP)
		c := pipeClient(t, h, client.Config{HeartbeatInterval: 5 * time.Second, MissedHeartbeats: 2})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		go func() {
			// A slow consumer: handling one event takes longer than the
			// dead-connection timeout, which must not count against the
			// server.
			time.Sleep(time.Second)
			_, _ = app.Publish(ctx, "t", "slow", 1)
		}()
		err = c.Subscribe(ctx, []string{"t"}, func(client.Event) error {
			time.Sleep(30 * time.Second)
			return nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Subscribe = %v, want the context's deadline", err)
		}
		if n := len(log.gaps()) + 1; n != 1 {
			t.Errorf("%d connections in 2 minutes with heartbeats every 5 s, want 1", n)
		}
	})
}
