// Package clientdocs runs the plain JavaScript client printed in
// docs/clients.md in headless Chromium against a real server, so the
// documentation cannot drift from what the server sends: named events,
// resync, heartbeat events, and the reconnect paths.
package clientdocs

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/sse"
)

// docScript returns the code block that follows the marker line
// "<!-- tested: name -->" in docs/clients.md.
func docScript(t *testing.T, name, lang string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "clients.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- tested: "+name+" -->\n```"+lang+"\n")
	if !ok {
		t.Fatalf("docs/clients.md has no ```%s block after <!-- tested: %s -->", lang, name)
	}
	code, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("unterminated code block in docs/clients.md")
	}
	return code
}

// harness is the page: the documented function, subscribed to two topics,
// recording everything it is told.
const harness = `<!doctype html><html><body><script src="/subscribe.js"></script><script>
window.got = []; window.opens = []; window.statuses = [];
const record = (name) => (data, e) => window.got.push({ name, data, raw: e.data, id: e.lastEventId });
subscribe(['docs:a', 'docs:b'], {
  note_added: record('note_added'),
  resync: record('resync'),
  heartbeat: record('heartbeat'),
}, {
  onOpen: (o) => window.opens.push(o),
  onStatus: (s) => window.statuses.push(s),
  heartbeatMs: 5000,
});
</script></body></html>`

type received struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	Raw  string          `json:"raw"`
	ID   string          `json:"id"`
}

// server serves a harness page, the script under test and an App on a
// broker; while refuse is set, /events answers 503 (like a proxy with no
// upstream), once per set.
type server struct {
	page    string
	script  string
	refuse  atomic.Bool
	mu      sync.Mutex
	queries []string // RawQuery of every /events request
}

func (s *server) handler(t *testing.T, broker sse.Broker) (http.Handler, func() error) {
	app, err := ssevents.New(ssevents.Config{
		Broker: broker, Retry: 200 * time.Millisecond,
		HeartbeatEvent: true, HeartbeatInterval: ssevents.MinHeartbeatInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(s.page))
	})
	mux.Handle("GET /react/", http.StripPrefix("/react/", http.FileServer(http.Dir("testdata/react"))))
	mux.Handle("GET /health", app)
	mux.HandleFunc("GET /subscribe.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(s.script))
	})
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.RawQuery+" last-event-id="+r.Header.Get("Last-Event-ID"))
		s.mu.Unlock()
		if s.refuse.CompareAndSwap(true, false) {
			http.Error(w, `{"error":"no upstream"}`, http.StatusServiceUnavailable)
			return
		}
		app.ServeHTTP(w, r)
	})
	return mux, app.Close
}

func gotEvents(p *browsertest.Page) []received { return browsertest.Eval[[]received](p, `window.got`) }

// TestDocumentedClient walks the documented client through what the
// server does: named events, a restart with a fresh broker (resync), an
// HTTP error (the client's own reconnect with ?lastEventId=) and the
// heartbeat event.
func TestDocumentedClient(t *testing.T) {
	t.Parallel()
	s := &server{page: harness, script: docScript(t, "subscribe.js", "js")}
	broker := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker.Close() })
	h, cleanup := s.handler(t, broker)
	srv := testserver.Start(t, h, cleanup)
	pub := ssevents.NewPublisher(broker, 0, nil)
	publish := func(p *ssevents.Publisher, topic, data string) string {
		t.Helper()
		id, err := p.Publish(context.Background(), topic, "note_added", json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	b := browsertest.Shared(t)
	page := b.NewPage(t, srv.URL)
	page.WaitFor("first open, nothing to resume", `window.opens.length === 1 && window.opens[0].resumed === false`, 5*time.Second)

	// Named events on both topics, data parsed, raw JSON exactly as published.
	idA := publish(pub, "docs:a", `{"text":"on a","n":1}`)
	publish(pub, "docs:b", `{"text":"on b","n":2}`)
	page.WaitFor("both events", `window.got.filter(g => g.name === 'note_added').length === 2`, 2*time.Second)
	got := gotEvents(page)
	var parsed struct {
		Text string
		N    int
	}
	if err := json.Unmarshal(got[0].Data, &parsed); err != nil || parsed.Text != "on a" || parsed.N != 1 {
		t.Errorf("handler got data %s, want the parsed object", got[0].Data)
	}
	if got[0].Raw != `{"text":"on a","n":1}` || got[0].ID != idA {
		t.Errorf("first event %+v, want the published data with id %s", got[0], idA)
	}
	if got[1].Raw != `{"text":"on b","n":2}` {
		t.Errorf("second event %+v", got[1])
	}

	// The server restarts with a new embedded broker: the page's id is
	// unknown there, so the stream starts with resync for both topics.
	srv.Stop()
	broker2 := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker2.Close() })
	h, cleanup = s.handler(t, broker2)
	srv.Restart(h, cleanup)
	// One resync event per topic, each naming it and why.
	page.WaitFor("resync after the restart", `window.got.filter(g => g.name === 'resync').length >= 2`, 5*time.Second)
	var resynced []string
	for _, g := range gotEvents(page) {
		if g.Name == "resync" {
			var d struct {
				Topics []string
				Topic  string
				Reason string
			}
			if err := json.Unmarshal(g.Data, &d); err != nil || len(d.Topics) != 1 || d.Topics[0] != d.Topic || d.Reason != "dataset_changed" {
				t.Errorf("resync data %s, want one topic and reason dataset_changed", g.Data)
			}
			resynced = append(resynced, d.Topic)
		}
	}
	if strings.Join(resynced, ",") != "docs:a,docs:b" {
		t.Errorf("resyncs of %v, want docs:a, docs:b", resynced)
	}
	page.WaitFor("reopened, resuming", `window.opens.length >= 2 && window.opens.at(-1).resumed === true`, 2*time.Second)

	// An HTTP error: the browser gives up and the documented function opens
	// a new EventSource itself, passing the last id as ?lastEventId=, and
	// gets what was published meanwhile.
	pub2 := ssevents.NewPublisher(broker2, 0, nil)
	publish(pub2, "docs:a", `{"text":"before the outage","n":3}`)
	page.WaitFor("event before the outage", `window.got.some(g => g.raw.includes('before the outage'))`, 2*time.Second)
	srv.Stop()
	s.refuse.Store(true)
	h, cleanup = s.handler(t, broker2)
	srv.Restart(h, cleanup)
	missedID := publish(pub2, "docs:b", `{"text":"during the outage","n":4}`)
	page.WaitFor("event published during the outage, after the client's own reconnect",
		`window.got.some(g => g.raw.includes('during the outage'))`, 8*time.Second)
	s.mu.Lock()
	last := s.queries[len(s.queries)-1]
	s.mu.Unlock()
	if !strings.Contains(last, "lastEventId=") || !strings.Contains(last, "topic=docs%3Aa%2Cdocs%3Ab") {
		t.Errorf("the client's own reconnect asked %q, want topic= and lastEventId=", last)
	}
	if statuses := browsertest.Eval[[]string](page, `window.statuses`); !contains(statuses, "offline") {
		t.Errorf("statuses %v never said offline", statuses)
	}
	for _, g := range gotEvents(page) {
		if strings.Contains(g.Raw, "during the outage") && g.ID != missedID {
			t.Errorf("missed event has id %q, want %q", g.ID, missedID)
		}
	}

	// Heartbeat events (SSE_HEARTBEAT_EVENT=true) reach the handler, with a
	// time, on an idle stream.
	page.WaitFor("a heartbeat event", `window.got.some(g => g.name === 'heartbeat' && typeof g.data.time === 'string')`,
		ssevents.MinHeartbeatInterval+3*time.Second)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// reactHarness renders a component that uses the documented hook, and
// lets the test unmount it.
const reactHarness = `<!doctype html><html><body><div id="root"></div>
<script src="/react/react.production.min.js"></script>
<script src="/react/react-dom.production.min.js"></script>
<script src="/subscribe.js"></script><script>
window.got = []; window.opens = [];
function Notes() {
  const status = useEventStream(['docs:a', 'docs:b'], {
    note_added: (data, e) => window.got.push({ name: 'note_added', data, raw: e.data, id: e.lastEventId }),
    resync: (data, e) => window.got.push({ name: 'resync', data, raw: e.data, id: e.lastEventId }),
  }, { onOpen: (o) => window.opens.push(o) });
  return React.createElement('p', { id: 'status' }, status);
}
const root = ReactDOM.createRoot(document.getElementById('root'));
root.render(React.createElement(Notes));
window.unmount = () => root.unmount();
</script></body></html>`

// hookScript turns the documented module into a plain script: React's
// hooks come from the UMD global instead of an import.
func hookScript(t *testing.T) string {
	code := docScript(t, "useEventStream.jsx", "jsx")
	code, ok := strings.CutPrefix(code, "import { useEffect, useRef, useState } from 'react';\n")
	if !ok {
		t.Fatal("the hook no longer starts with its React import; update the test")
	}
	return "const { useEffect, useRef, useState } = React;\n" + strings.Replace(code, "export function", "function", 1)
}

// TestDocumentedReactHook runs the React hook of docs/clients.md in a
// component: its status goes live, named events reach its handlers with
// the published JSON, a restart with a fresh broker gives resync and a
// resumed open, and unmounting closes the stream.
func TestDocumentedReactHook(t *testing.T) {
	t.Parallel()
	s := &server{page: reactHarness, script: hookScript(t)}
	broker := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker.Close() })
	h, cleanup := s.handler(t, broker)
	srv := testserver.Start(t, h, cleanup)

	page := browsertest.Shared(t).NewPage(t, srv.URL)
	page.WaitFor("the component shows live", `document.getElementById('status')?.textContent === 'live'`, 5*time.Second)
	if opens := browsertest.Eval[[]map[string]bool](page, `window.opens`); len(opens) != 1 || opens[0]["resumed"] {
		t.Errorf("opens %v, want one, not resumed", opens)
	}

	id, err := ssevents.NewPublisher(broker, 0, nil).Publish(context.Background(), "docs:b", "note_added", json.RawMessage(`{"text":"from react","n":7}`))
	if err != nil {
		t.Fatal(err)
	}
	page.WaitFor("the handler got the event", `window.got.length === 1`, 2*time.Second)
	if g := gotEvents(page)[0]; g.Name != "note_added" || g.Raw != `{"text":"from react","n":7}` || g.ID != id {
		t.Errorf("handler got %+v, want note_added %s", g, id)
	}

	srv.Stop()
	page.WaitFor("the component shows offline", `document.getElementById('status').textContent === 'offline'`, 5*time.Second)
	broker2 := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker2.Close() })
	h, cleanup = s.handler(t, broker2)
	srv.Restart(h, cleanup)
	page.WaitFor("resync after the restart", `window.got.filter(g => g.name === 'resync').map(g => g.data.topic).join() === 'docs:a,docs:b'`, 5*time.Second)
	page.WaitFor("live again, resumed", `document.getElementById('status').textContent === 'live' && window.opens.at(-1).resumed === true`, 2*time.Second)

	connections := func() int {
		resp, err := http.Get(srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h ssevents.Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return h.Connections
	}
	if n := connections(); n != 1 {
		t.Fatalf("%d streams open with the component mounted, want 1", n)
	}
	browsertest.Eval[bool](page, `(window.unmount(), true)`)
	deadline := time.Now().Add(3 * time.Second)
	for connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream is still open 3 s after the component unmounted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
