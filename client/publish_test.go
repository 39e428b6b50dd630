package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// scriptedPublish answers POST /publish with the statuses of script in
// turn (the last one repeats) and records each request's Idempotency-Key.
// A status of 0 drops the connection without an answer.
type scriptedPublish struct {
	script []int
	mu     sync.Mutex
	keys   []string
}

func (s *scriptedPublish) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.keys)
	s.keys = append(s.keys, r.Header.Get(sse.IdempotencyKeyHeader))
	s.mu.Unlock()
	status := s.script[min(n, len(s.script)-1)]
	switch status {
	case 0:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case http.StatusOK:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1-0"}`))
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"scripted failure"}`))
	}
}

// requestKeys returns the keys the requests so far carried.
func (s *scriptedPublish) requestKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func TestClientPublishRetriesWithSameKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     []int
		retries    int
		key        string
		wantTries  int
		wantStatus int // 0: success
		wantNoResp bool
	}{
		{"503 then 200", []int{503, 503, 200}, 0, "", 3, 0, false},
		{"dropped connection then 200", []int{0, 200}, 0, "", 2, 0, false},
		{"caller's key", []int{503, 200}, 0, "order-42:paid", 2, 0, false},
		{"502 and 504 from a proxy then 200", []int{502, 504, 200}, 0, "", 3, 0, false},
		{"400 is not retried", []int{400, 200}, 0, "", 1, 400, false},
		{"500 is not retried", []int{500, 200}, 0, "", 1, 500, false},
		{"403 is not retried", []int{403, 200}, 0, "", 1, 403, false},
		{"retries run out", []int{503}, 2, "", 3, 503, false},
		{"default retries", []int{503}, 0, "", 1 + client.DefaultPublishRetries, 503, false},
		{"retries off", []int{503, 200}, -1, "", 1, 503, false},
		{"no answer, retries run out", []int{0}, 1, "", 2, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scriptedPublish{script: tt.script}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			c := newClient(t, client.Config{URL: srv.URL, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, PublishRetries: tt.retries})
			var attempts []client.PublishAttempt
			id, err := c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: 1,
				IdempotencyKey: tt.key, OnAttempt: func(a client.PublishAttempt) { attempts = append(attempts, a) }})
			var se *client.StatusError
			switch {
			case tt.wantStatus == 0 && !tt.wantNoResp && (err != nil || id != "1-0"):
				t.Errorf("PublishMessage = %q, %v; want 1-0", id, err)
			case tt.wantStatus != 0 && (!errors.As(err, &se) || se.StatusCode != tt.wantStatus):
				t.Errorf("PublishMessage = %q, %v; want a %d StatusError", id, err, tt.wantStatus)
			case tt.wantNoResp && (err == nil || errors.As(err, &se)):
				t.Errorf("PublishMessage = %q, %v; want a transport error", id, err)
			}
			keys := s.requestKeys()
			if len(keys) != tt.wantTries || len(attempts) != tt.wantTries {
				t.Fatalf("%d requests, %d attempts reported; want %d", len(keys), len(attempts), tt.wantTries)
			}
			for i, k := range keys {
				if k != keys[0] || sse.ValidateIdempotencyKey(k) != nil || (tt.key == "" && len(k) < 22) || attempts[i].Key != k || attempts[i].N != i+1 {
					t.Errorf("request %d: key %q (reported %q, attempt %d), want one valid key (22+ characters if generated) for all (first %q)", i, k, attempts[i].Key, attempts[i].N, keys[0])
				}
			}
			if tt.key != "" && keys[0] != tt.key {
				t.Errorf("sent key %q, want the caller's %q", keys[0], tt.key)
			}
		})
	}
}

func TestClientPublishKeysDiffer(t *testing.T) {
	t.Parallel()
	s := &scriptedPublish{script: []int{200}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL})
	for range 3 {
		if _, err := c.Publish(t.Context(), "t", "e", 1); err != nil {
			t.Fatal(err)
		}
	}
	keys := s.requestKeys()
	if len(keys) != 3 || keys[0] == keys[1] || keys[1] == keys[2] || keys[0] == "" {
		t.Errorf("keys of three publishes = %q, want three different keys", keys)
	}
}

func TestClientPublishRefusesInvalidKey(t *testing.T) {
	t.Parallel()
	s := &scriptedPublish{script: []int{200}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL})
	for _, key := range []string{"with space", "tab\t", string(make([]byte, 201)), "é"} {
		if _, err := c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: 1, IdempotencyKey: key}); !errors.Is(err, sse.ErrInvalidIdempotencyKey) {
			t.Errorf("key %q: %v, want ErrInvalidIdempotencyKey", key, err)
		}
	}
	if n := len(s.requestKeys()); n != 0 {
		t.Errorf("%d requests sent with invalid keys, want none", n)
	}
}

func TestClientPublishHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log requestLog
		calls := 0
		h := log.wrap(func(w http.ResponseWriter, r *http.Request) {
			calls++
			if calls == 1 {
				w.Header().Set("Retry-After", "2")
				ssevents.WriteError(w, r, nil, sse.ErrUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"5-0"}`))
		})
		c := pipeClient(t, h, client.Config{BackoffInitial: time.Millisecond})
		id, err := c.Publish(context.Background(), "t", "e", 1)
		if err != nil || id != "5-0" {
			t.Fatalf("Publish = %q, %v; want 5-0", id, err)
		}
		if g := log.gaps(); len(g) != 1 || g[0] < 2*time.Second {
			t.Errorf("gaps between requests = %v, want one of at least the 2s Retry-After", g)
		}
	})
}

func TestClientPublishStopsRetryingWhenCtxEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			ssevents.WriteError(w, r, nil, sse.ErrUnavailable)
		})
		c := pipeClient(t, h, client.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Publish(ctx, "t", "e", 1)
		if !errors.Is(err, sse.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Publish = %v, want the 503 and the context's deadline", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Publish returned after %v, want at the 1s deadline", d)
		}
	})
}
