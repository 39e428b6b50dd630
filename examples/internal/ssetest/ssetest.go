// Package ssetest is a small SSE reader for the examples' HTTP-level
// tests: it opens a stream and hands out its events one at a time.
package ssetest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Event is one event read from a stream.
type Event struct {
	ID    string
	Event string // "message" when the stream named none
	Data  string
}

// Stream is an open SSE response.
type Stream struct {
	t      testing.TB
	resp   *http.Response
	events chan Event
	errc   chan error
	cancel context.CancelFunc
}

// Subscribe opens url as an event stream with the given request headers
// (nil for none) and fails the test unless the answer is 200
// text/event-stream. The stream is closed when the test ends.
func Subscribe(t testing.TB, url string, header http.Header) *Stream {
	t.Helper()
	s, status, err := Open(t, url, header)
	if err != nil {
		t.Fatalf("subscribe %s: %v", url, err)
	}
	if status != http.StatusOK {
		t.Fatalf("subscribe %s: status %d, want 200", url, status)
	}
	return s
}

// Open is Subscribe that returns the status instead of failing on a
// non-200 answer (the stream is nil then).
func Open(t testing.TB, url string, header http.Header) (*Stream, int, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		_ = resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, fmt.Errorf("content type %q, want text/event-stream", ct)
	}
	s := &Stream{t: t, resp: resp, events: make(chan Event, 64), errc: make(chan error, 1), cancel: cancel}
	go s.read()
	t.Cleanup(s.Close)
	return s, resp.StatusCode, nil
}

// read parses the stream: fields up to a blank line make one event;
// comments (heartbeats) and retry: lines are skipped.
func (s *Stream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ev Event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				if ev.Event == "" {
					ev.Event = "message"
				}
				s.events <- ev
			}
			ev, data = Event{ID: ev.ID}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		}
	}
	s.errc <- sc.Err()
}

// Next returns the next event, failing the test if none arrives within
// timeout or the stream ends.
func (s *Stream) Next(timeout time.Duration) Event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("stream ended before the next event: %v", <-s.errc)
		}
		return ev
	case <-time.After(timeout):
		s.t.Fatalf("no event within %v", timeout)
	}
	return Event{}
}

// NextNamed skips events until one named name arrives, within timeout.
func (s *Stream) NextNamed(name string, timeout time.Duration) Event {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			s.t.Fatalf("no %q event within %v", name, timeout)
		}
		if ev := s.Next(left); ev.Event == name {
			return ev
		}
	}
}

// Close ends the stream.
func (s *Stream) Close() {
	s.cancel()
	_ = s.resp.Body.Close()
}
