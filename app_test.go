package ssevents_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	broker := memory.New(sse.BrokerOptions{})
	_, srv := newServer(t, ssevents.Config{Broker: broker})
	check := func(path string, status int, want string) {
		t.Helper()
		resp := get(t, srv.URL+path, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %s, want %d with %s", path, resp.StatusCode, body, status, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
	}
	check("/health", 200, `"status":"ok"`)
	check("/health/live", 200, `"status":"ok"`)
	check("/health/ready", 200, `"status":"ready"`)
	broker.Close()
	check("/health/ready", 503, `"error":"ssevents: broker not ready: ssevents: broker closed"`)
	check("/health/live", 200, `"status":"ok"`)
	check("/health", 200, `"broker":"ssevents: broker closed"`)
}

func TestMetricsEndpoints(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{MaxConnections: 1})
	s := subscribe(t, srv.URL+"/events?topic=a", nil)
	get(t, srv.URL+"/events?topic=a", nil).Body.Close() // rejected: limit 1
	publish(t, app, "a", "e", 1)
	s.next(2 * time.Second)
	publish(t, app, "b", "e", 2)

	resp := get(t, srv.URL+"/metrics", nil)
	var snap map[string]map[string]any
	var raw map[string]json.RawMessage
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("/metrics is not JSON: %v: %s", err, body)
	}
	for _, k := range []string{"connections", "messages", "topics", "latency"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("/metrics has no %q: %s", k, body)
		}
	}
	delete(raw, "topics")
	b2, _ := json.Marshal(raw)
	if err := json.Unmarshal(b2, &snap); err != nil {
		t.Fatalf("/metrics: %v: %s", err, body)
	}
	for _, c := range []struct {
		group, key string
		want       float64
	}{
		{"connections", "current", 1},
		{"connections", "rejected", 1},
		{"messages", "published", 2},
		{"messages", "delivered", 1},
		{"messages", "dropped", 0},
	} {
		if got := snap[c.group][c.key]; got != c.want {
			t.Errorf("%s.%s = %v, want %v", c.group, c.key, got, c.want)
		}
	}
	if snap["latency"]["publish_count"] != float64(2) {
		t.Errorf("latency: %v", snap["latency"])
	}
	var topics int
	if err := json.Unmarshal(raw2(body, "topics"), &topics); err != nil {
		t.Fatalf("/metrics topics: %v: %s", err, body)
	}
	if topics != 2 {
		t.Errorf("topics = %d, want 2", topics)
	}

	resp = get(t, srv.URL+"/metrics/prometheus", nil)
	prom, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		"sse_connections_current 1",
		`sse_connections_rejected{reason="max_connections"} 1`,
		"sse_messages_delivered 1",
		"sse_messages_dropped 0",
		"sse_messages_published 2",
		"# TYPE sse_publish_latency_ms gauge",
		"sse_delivery_latency_seconds_count 1",
		"# TYPE sse_connections_rejected counter",
		"go_goroutines",
	} {
		if !strings.Contains(string(prom), line) {
			t.Errorf("/metrics/prometheus lacks %q", line)
		}
	}
}

func raw2(body []byte, key string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil // the caller's Unmarshal of nil fails and says so
	}
	return m[key]
}

func TestCloseEndsStreamsCleanly(t *testing.T) {
	t.Parallel()
	bothModes(t, testCloseEndsStreamsCleanly)
}

func testCloseEndsStreamsCleanly(t *testing.T, cfg ssevents.Config) {
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	streams := []*stream{
		subscribe(t, srv.URL+"/events?topic=a", nil),
		subscribe(t, srv.URL+"/events?topic=b,c", nil),
	}
	waitFor(t, "subscriptions", time.Second, func() bool { return app.Events().Connections() == 2 })
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if err := s.ended(2 * time.Second); !errors.Is(err, io.EOF) {
			t.Errorf("stream ended with %v, want a clean EOF", err)
		}
	}
	resp := get(t, srv.URL+"/events?topic=a", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: status %d, want 503", resp.StatusCode)
	}
	errorBody(t, resp)
	// goleak in TestMain checks that nothing is left running.
}

func TestMountOnOwnMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hi") })
	app, err := ssevents.Mount(mux, ssevents.Config{Path: "/sse"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { app.Close() })
	s := subscribe(t, srv.URL+"/sse?topic=x", nil)
	waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
	id := publish(t, app, "x", "e", "v")
	if ev := s.next(2 * time.Second); ev.ID != id {
		t.Fatalf("got %+v", ev)
	}
	for path, want := range map[string]int{"/hello": 200, "/health/ready": 200, "/metrics": 200, "/events?topic=x": 404} {
		resp := get(t, srv.URL+path, nil)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}
