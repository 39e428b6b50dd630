package ssevents_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/wire"
)

// Streams over HTTP/2 (TLS with ALPN h2, as browsers use it) behave as over
// HTTP/1.1: the handler cannot take the connection over there and writes
// through the ResponseWriter, one stream per HTTP/2 stream.

// newHTTP2Server serves an App made from cfg over TLS with HTTP/2 enabled;
// both are closed when the test ends (the app first).
func newHTTP2Server(t *testing.T, cfg ssevents.Config) (*ssevents.App, *httptest.Server) {
	t.Helper()
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewUnstartedServer(app)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("app.Close: %v", err)
		}
	})
	return app, srv
}

// http2Client returns a client of srv that speaks HTTP/2 only, on a
// connection of its own (one client, one TCP connection), and whose
// per-stream receive window is perStream bytes (0: net/http's default).
func http2Client(t *testing.T, srv *httptest.Server, perStream int) *http.Client {
	t.Helper()
	base := srv.Client().Transport.(*http.Transport)
	tr := &http.Transport{TLSClientConfig: base.TLSClientConfig.Clone(), Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP2(true)
	if perStream > 0 {
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: perStream, MaxReceiveBufferPerConnection: 64 << 10}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// getHTTP2 sends GET url with header through c and fails the test unless
// the answer came over HTTP/2. The response is closed when the test ends.
func getHTTP2(t *testing.T, c *http.Client, url string, header http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.ProtoMajor != 2 {
		t.Fatalf("GET %s answered over %s, want HTTP/2", url, resp.Proto)
	}
	return resp
}

// subscribeHTTP2 opens a stream over HTTP/2 and reads its events in the
// background, like subscribe.
func subscribeHTTP2(t *testing.T, c *http.Client, url string, header http.Header) *stream {
	t.Helper()
	resp := getHTTP2(t, c, url, header)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d, body %s", url, resp.StatusCode, body)
	}
	s := &stream{t: t, resp: resp, events: make(chan wire.Event, 1024), done: make(chan error, 1), cancel: func() {}}
	go func() {
		p := wire.NewParser(resp.Body)
		for {
			ev, err := p.Next()
			if err != nil {
				close(s.events)
				s.done <- err
				return
			}
			s.events <- ev
		}
	}()
	return s
}

func TestHTTP2_deliveryAndResume(t *testing.T) {
	t.Parallel()
	app, srv := newHTTP2Server(t, ssevents.Config{})
	c := http2Client(t, srv, 0)
	s := subscribeHTTP2(t, c, srv.URL+"/events?topic=a,b", nil)
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	waitFor(t, "the subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
	first := publish(t, app, "a", "one", 1)
	second := publish(t, app, "b", "two", 2)
	third := publish(t, app, "a", "three", 3)
	for _, want := range []wire.Event{{ID: first, Name: "one", Data: "1", Topic: "a"}, {ID: second, Name: "two", Data: "2", Topic: "b"}, {ID: third, Name: "three", Data: "3", Topic: "a"}} {
		if got := s.next(5 * time.Second); got != want {
			t.Fatalf("event %+v, want %+v", got, want)
		}
	}

	// A second stream on the same HTTP/2 connection resumes after the
	// first event: it gets the two that followed, then live ones.
	r := subscribeHTTP2(t, c, srv.URL+"/events?topic=a,b", http.Header{"Last-Event-Id": {first}})
	for _, want := range []wire.Event{{ID: second, Name: "two", Data: "2", Topic: "b"}, {ID: third, Name: "three", Data: "3", Topic: "a"}} {
		if got := r.next(5 * time.Second); got != want {
			t.Fatalf("replayed %+v, want %+v", got, want)
		}
	}
	live := publish(t, app, "b", "four", 4)
	for _, st := range []*stream{s, r} {
		if got, want := st.next(5*time.Second), (wire.Event{ID: live, Name: "four", Data: "4", Topic: "b"}); got != want {
			t.Fatalf("live event %+v, want %+v", got, want)
		}
	}
}

// The connection limit counts HTTP/2 streams: past it, a stream on the
// same connection is answered 503 with Retry-After and a JSON error, and
// the open streams go on.
func TestHTTP2_connectionLimit(t *testing.T) {
	t.Parallel()
	app, srv := newHTTP2Server(t, ssevents.Config{MaxConnections: 2})
	c := http2Client(t, srv, 0)
	a := subscribeHTTP2(t, c, srv.URL+"/events?topic=a", nil)
	b := subscribeHTTP2(t, c, srv.URL+"/events?topic=a", nil)
	waitFor(t, "two streams", time.Second, func() bool { return app.Events().Connections() == 2 })
	resp := getHTTP2(t, c, srv.URL+"/events?topic=a", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if msg := errorBody(t, resp); !strings.Contains(msg, "limit") {
		t.Errorf("error %q does not name the limit", msg)
	}
	id := publish(t, app, "a", "e", 1)
	for _, s := range []*stream{a, b} {
		if got := s.next(5 * time.Second); got.ID != id {
			t.Fatalf("open stream got %+v, want the event %s", got, id)
		}
	}
}

// A client that stops reading one HTTP/2 stream fills its flow-control
// window; the stream's write then times out and the stream alone is
// dropped (counted as a slow subscriber), while a stream of another
// connection keeps receiving every event.
func TestHTTP2_slowStreamIsDroppedAndOthersUnaffected(t *testing.T) {
	t.Parallel()
	app, srv := newHTTP2Server(t, ssevents.Config{MaxQueueSize: 4, WriteTimeout: time.Second})
	fast := subscribeHTTP2(t, http2Client(t, srv, 0), srv.URL+"/events?topic=a", nil)
	// The slow client never reads its body; its window is 64 KiB.
	slow := getHTTP2(t, http2Client(t, srv, 64<<10), srv.URL+"/events?topic=a", nil)
	if slow.StatusCode != http.StatusOK {
		t.Fatalf("slow stream: status %d", slow.StatusCode)
	}
	waitFor(t, "subscriptions", time.Second, func() bool { return app.Events().Connections() == 2 })

	payload := json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)
	// 200 × 16 KiB = 3.2 MB, fifty times the stalled stream's window. The
	// publisher goes at the pace of the fast subscriber.
	const n = 200
	for i := range n {
		id := publish(t, app, "a", "big", payload)
		if ev := fast.next(10 * time.Second); ev.ID != id {
			t.Fatalf("fast subscriber, event %d: got %+v, want id %s", i, ev.ID, id)
		}
	}
	waitFor(t, "the slow stream to be dropped", 10*time.Second, func() bool {
		return app.Metrics().Snapshot().Connections.SlowDisconnected == 1
	})
	snap := app.Metrics().Snapshot()
	if snap.Connections.SlowDisconnected != 1 || snap.Connections.Current != 1 {
		t.Errorf("want exactly the stalled stream dropped: %+v", snap.Connections)
	}
	// The fast stream still receives after the drop.
	id := publish(t, app, "a", "after", 1)
	if ev := fast.next(5 * time.Second); ev.ID != id {
		t.Fatalf("fast subscriber after the drop: got %+v, want id %s", ev, id)
	}
}
