package jsclient_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/hub"
)

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }

// secret is the hub's JWT secret in the tests that authenticate.
var secret = strings.Repeat("j", hub.MinJWTSecretLength)

// rig is a hub behind a mux that also serves the test page
// (testdata/page.html, which imports the hub's /ssevents.js), mints tokens
// at /token, and records every request for the SSE endpoint.
type rig struct {
	hub *hub.Hub
	srv *testserver.Server
	ttl func(n int) time.Duration // the lifetime of the nth token (from 1)

	mu      sync.Mutex
	streams []*http.Request // the SSE requests, in order
	tokens  int
}

func newRig(t *testing.T, cfg hub.Config, ttl func(n int) time.Duration) *rig {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	r := &rig{hub: h, ttl: ttl}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page.html", func(w http.ResponseWriter, req *http.Request) {
		http.ServeFile(w, req, "testdata/page.html")
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.tokens++
		n := r.tokens
		r.mu.Unlock()
		// The token grants the topics asked for, but those in ?deny=.
		var topics []string
		for _, topic := range strings.Split(req.URL.Query().Get("topic"), ",") {
			if !slices.Contains(strings.Split(req.URL.Query().Get("deny"), ","), topic) {
				topics = append(topics, topic)
			}
		}
		_, _ = fmt.Fprint(w, mint(t, map[string]any{"sub": "u1", "exp": time.Now().Add(r.ttl(n)).Unix(),
			"sse": map[string]any{"subscribe": topics}}))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/events" {
			r.mu.Lock()
			r.streams = append(r.streams, req.Clone(req.Context()))
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
	r.srv = testserver.Start(t, mux, h.Close)
	return r
}

// page is the test page's URL for the query.
func (r *rig) page(query string) string { return r.srv.URL + "/page.html?" + query }

// requests returns the SSE requests so far.
func (r *rig) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.streams...)
}

func (r *rig) tokenCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tokens
}

// waitStreams waits until the hub holds n streams, failing the test after
// within.
func (r *rig) waitStreams(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for r.hub.App().Events().Connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %d streams, want %d", r.hub.App().Events().Connections(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publish publishes on the hub and returns the event's id.
func (r *rig) publish(t *testing.T, topic, event string, data any) string {
	t.Helper()
	id, err := r.hub.App().Publish(t.Context(), topic, event, data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// mint signs an HS256 JWT with the rig's secret.
func mint(t *testing.T, claims map[string]any) string { return ssetest.HS256(t, secret, claims) }

// event is what the page's handlers received.
type event struct {
	ID    string `json:"id"`
	Event string `json:"event"`
	Topic string `json:"topic"`
}

func got(p *browsertest.Page) []event { return browsertest.Eval[[]event](p, `window.got`) }

// ids lists the ids of the events named name that p received, in order.
func ids(p *browsertest.Page, name string) []string {
	var out []string
	for _, e := range got(p) {
		if e.Event == name {
			out = append(out, e.ID)
		}
	}
	return out
}

func waitOpen(p *browsertest.Page) {
	p.WaitFor("the subscription opens", `window.states && window.states.at(-1) === "open"`, 10*time.Second)
}

// hubConfig is a hub with a short retry (reconnections in tests) and,
// when auth, the JWT secret.
func hubConfig(auth bool) hub.Config {
	cfg := hub.Config{Config: ssevents.Config{Retry: 200 * time.Millisecond}}
	if auth {
		cfg.JWTSecret = secret
	}
	return cfg
}
