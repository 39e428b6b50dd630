package ssevents_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// newServer serves an App made from cfg on a loopback httptest server; both
// are closed when the test ends (the app first, so streams end cleanly).
func newServer(t *testing.T, cfg ssevents.Config) (*ssevents.App, *httptest.Server) {
	t.Helper()
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("app.Close: %v", err)
		}
	})
	return app, srv
}

// stream is an open SSE response read with the spec parser.
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan wire.Event
	done   chan error
	cancel context.CancelFunc
}

// subscribe opens GET url and fails the test unless it answers 200.
func subscribe(t *testing.T, url string, header http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d, body %s", url, resp.StatusCode, body)
	}
	s := &stream{t: t, resp: resp, events: make(chan wire.Event, 1024), done: make(chan error, 1), cancel: cancel}
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
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, failing the test after timeout.
func (s *stream) next(timeout time.Duration) wire.Event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("stream ended before the expected event")
		}
		return ev
	case <-time.After(timeout):
		s.t.Fatalf("no event within %v", timeout)
	}
	return wire.Event{}
}

// expectNone fails if an event arrives within d.
func (s *stream) expectNone(d time.Duration) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			s.t.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(d):
	}
}

// ended waits for the stream to end and returns the reader's error.
func (s *stream) ended(timeout time.Duration) error {
	s.t.Helper()
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return <-s.done
			}
		case <-time.After(timeout):
			s.t.Fatalf("stream still open after %v", timeout)
			return nil
		}
	}
}

// errorBody reads a JSON error response.
func errorBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var body sse.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("error body is not JSON {\"error\": ...}: %v", err)
	}
	if body.Error == "" {
		t.Errorf("error body has an empty message")
	}
	return body.Error
}

// get performs a GET and returns the response.
func get(t *testing.T, url string, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// readFirstBytes reads until it has n bytes or the deadline passes.
func readFirstBytes(t *testing.T, r io.Reader, prefix string, timeout time.Duration) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		br := bufio.NewReader(r)
		buf := make([]byte, len(prefix))
		_, err := io.ReadFull(br, buf)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(buf)
	}()
	select {
	case s := <-got:
		if s != prefix {
			t.Fatalf("stream starts with %q, want %q", s, prefix)
		}
	case <-time.After(timeout):
		t.Fatalf("nothing flushed within %v: the browser's open event would not fire", timeout)
	}
}

func publish(t *testing.T, p interface {
	Publish(context.Context, string, string, any) (string, error)
}, topic, event string, data any) string {
	t.Helper()
	id, err := p.Publish(context.Background(), topic, event, data)
	if err != nil {
		t.Fatalf("Publish(%q, %q): %v", topic, event, err)
	}
	return id
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
