package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// startCLITestHub serves the real hub for the client commands' tests:
// with cfg's zero value, anonymous subscribing and loopback publishing.
// Cleanup closes the hub first, so that streams end and the server can
// close.
func startCLITestHub(t *testing.T, cfg hub.Config) (*ssevents.App, *httptest.Server) {
	t.Helper()
	cfg.Retry = 50 * time.Millisecond
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	return h.App(), srv
}

// jwtHub is a hub configuration that requires tokens signed with a test
// secret, so that a wrong token is answered 401.
var jwtHub = hub.Config{JWTSecret: strings.Repeat("s", hub.MinJWTSecretLength)}

// lockedBuffer is a bytes.Buffer safe to write from a command while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPublishPrintsID(t *testing.T) {
	t.Parallel()
	app, srv := startCLITestHub(t, hub.Config{})
	// A stream resuming from before the publish sees the event, with the
	// id that publish printed.
	first, err := app.Publish(t.Context(), "other", "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = runPublish(t.Context(), []string{"--url", srv.URL, "--topic", "orders,invoices", "--event", "paid", "--data", `{"n": 1}`}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("publish: %v (stderr %s)", err, stderr.String())
	}
	id := strings.TrimSpace(stdout.String())
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("publish printed %q, want one id", stdout.String())
	}
	sub, err := app.Broker().Subscribe(t.Context(), sse.SubscribeRequest{Topics: []string{"invoices"}, LastEventID: first})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	evs := sub.Backlog().Events
	if len(evs) != 1 || evs[0].ID != id || evs[0].Name != "paid" || string(evs[0].Data) != `{"n":1}` {
		t.Errorf("published %+v, want one event %s paid {\"n\":1}", evs, id)
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, hub.Config{})
	_, authSrv := startCLITestHub(t, jwtHub)
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"no topic", []string{"--data", "{}"}, "", "--topic is required"},
		{"data not JSON", []string{"--topic", "t", "--data", "{nope"}, "", "not valid JSON"},
		{"server refuses", []string{"--topic", "bad topic!"}, "", "400"},
		{"token flag", []string{"--url", authSrv.URL, "--topic", "t", "--token", "wrong"}, "", "401"},
		{"bad idempotency key", []string{"--topic", "t", "--idempotency-key", "a b"}, "", "--idempotency-key"},
		{"stray argument", []string{"--topic", "t", "extra"}, "", "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runPublish(context.Background(), append([]string{"--url", srv.URL}, tt.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("publish %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q on failure", stdout.String())
			}
		})
	}
}

func TestPublishTokenFromEnv(t *testing.T) {
	// Not parallel: it sets an environment variable.
	_, srv := startCLITestHub(t, jwtHub)
	t.Setenv("SSE_TOKEN", "wrong")
	var stdout, stderr bytes.Buffer
	err := runPublish(t.Context(), []string{"--url", srv.URL, "--topic", "t"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("publish with SSE_TOKEN=wrong = %v, want the server's 401", err)
	}
}

func TestPublishRetriesWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantKey string // "": any generated key
	}{
		{"given key", []string{"--idempotency-key", "order-7:paid"}, "order-7:paid"},
		{"generated key", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				n := len(keys)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = w.Write([]byte(`{"error":"broker unavailable"}`))
					return
				}
				_, _ = w.Write([]byte(`{"id":"9-1"}`))
			}))
			t.Cleanup(srv.Close)
			var stdout, stderr bytes.Buffer
			args := append([]string{"--url", srv.URL, "--topic", "t"}, tt.args...)
			if err := runPublish(t.Context(), args, &stdout, &stderr); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got := strings.TrimSpace(stdout.String()); got != "9-1" {
				t.Errorf("printed %q, want the id of the retry, 9-1", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" || (tt.wantKey != "" && keys[0] != tt.wantKey) {
				t.Errorf("Idempotency-Keys sent = %q, want the same key (%q) twice", keys, tt.wantKey)
			}
		})
	}
}
