package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/sse"
)

// testRetry is the reconnection delay the test servers send, so that a
// page reconnects within the test's time budget.
const testRetry = 200 * time.Millisecond

// start serves the example with cfg on a loopback port.
func start(t *testing.T, cfg Config) *testserver.Server {
	t.Helper()
	h, cleanup := mustServer(t, cfg)
	return testserver.Start(t, h, cleanup)
}

func mustServer(t *testing.T, cfg Config) (http.Handler, func() error) {
	t.Helper()
	if cfg.SSE.Retry == 0 {
		cfg.SSE.Retry = testRetry
	}
	h, cleanup, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, cleanup
}

func postComment(t *testing.T, base, thread, author, text string) Comment {
	t.Helper()
	body, _ := json.Marshal(commentInput{Author: author, Text: text})
	resp, err := http.Post(base+"/threads/"+thread+"/comments", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST comment: status %d: %s", resp.StatusCode, b)
	}
	var c Comment
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// logEntry is one element of the page's window.sseLog.
type logEntry struct {
	Event string `json:"event"`
	Data  string `json:"data"`
	ID    string `json:"id"`
	At    int64  `json:"at"`
}

// TestCommentAppearsInOtherWindow: a comment posted through the form of
// one page shows in another page within a second, and the other page's
// addEventListener got exactly the JSON the server published.
func TestCommentAppearsInOtherWindow(t *testing.T) {
	t.Parallel()
	srv := start(t, Config{})
	b := browsertest.Shared(t)
	url := srv.URL + "/?thread=sales-42"
	alice := b.NewPage(t, url)
	bob := b.NewPage(t, url)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live' && window.loadCount === 1`, 5*time.Second)
	}

	alice.SetValue("#author", "Alice")
	alice.SetValue("#text", "Customer called back, deal moves to Q3")
	alice.Click("#post")

	bob.WaitFor("comment shows in the other window",
		`[...document.querySelectorAll('#comments li .text')].some(e => e.textContent === 'Customer called back, deal moves to Q3')`,
		3*time.Second)

	// Both pages run in one browser, so they share a clock: the delay is
	// from the click in one window to the comment in the DOM of the other.
	postedAt := browsertest.Eval[int64](alice, `window.postedAt`)
	renderedAt := browsertest.Eval[int64](bob, `window.renderedAt[1]`)
	if d := time.Duration(renderedAt-postedAt) * time.Millisecond; d > time.Second {
		t.Errorf("comment took %v to appear in the other window, want under 1s", d)
	}

	log := browsertest.Eval[[]logEntry](bob, `window.sseLog`)
	if len(log) != 1 {
		t.Fatalf("other window received %d events, want 1: %+v", len(log), log)
	}
	if got, want := log[0].Event, "comment_created"; got != want {
		t.Errorf("event name %q, want %q", got, want)
	}
	if got, want := log[0].Data, `{"id":1,"thread_id":"sales-42"}`; got != want {
		t.Errorf("event data %s, want exactly %s", got, want)
	}
	if log[0].ID == "" {
		t.Error("event has no id, so the page could not resume")
	}
	// The poster's own page shows it too, from the same event.
	alice.WaitFor("comment shows in the poster's window", `document.querySelectorAll('#comments li').length === 1`, 2*time.Second)
	bob.SaveScreenshot("crm-comments")
}

// TestPageCatchesUpAfterRestart: the server goes away, a comment is posted
// meanwhile, the server comes back on the same address; the page
// reconnects with Last-Event-ID and shows the comment, replayed from the
// broker's history (not refetched).
func TestPageCatchesUpAfterRestart(t *testing.T) {
	t.Parallel()
	// The broker outlives the HTTP server, as Redis does in production:
	// the embedded broker's history would die with its process.
	broker := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker.Close() })
	store := NewStore()
	cfg := Config{SSE: ssevents.Config{Broker: broker}, Store: store}

	var lastIDs lastEventIDs
	h, cleanup := mustServer(t, cfg)
	srv := testserver.Start(t, lastIDs.wrap(h), cleanup)

	b := browsertest.Shared(t)
	page := b.NewPage(t, srv.URL+"/?thread=restart")
	page.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live'`, 5*time.Second)
	before := postComment(t, srv.URL, "restart", "Ann", "before the restart")
	page.WaitFor("first comment shows", `document.querySelectorAll('#comments li').length === 1`, 3*time.Second)
	seenID := browsertest.Eval[string](page, `window.sseLog.at(-1).id`)

	srv.Stop()
	page.WaitFor("page shows Offline", `document.getElementById('status').dataset.state === 'offline'`, 5*time.Second)

	// Posted while the page is away, the way another instance would.
	away := &comments{store: store, pub: ssevents.NewPublisher(broker, 0, nil), logger: slog.Default()}
	missed := away.Create(context.Background(), "restart", "Ben", "posted while you were away")

	h, cleanup = mustServer(t, cfg)
	srv.Restart(lastIDs.wrap(h), cleanup)

	page.WaitFor("missed comment shows after reconnect",
		`[...document.querySelectorAll('#comments li .text')].some(e => e.textContent === 'posted while you were away')`,
		5*time.Second)
	page.WaitFor("page is live again", `document.getElementById('status').dataset.state === 'live'`, 2*time.Second)

	if n := browsertest.Eval[int](page, `window.loadCount`); n != 1 {
		t.Errorf("page reloaded the thread %d times, want once: the missed comment must come from the replay", n)
	}
	log := browsertest.Eval[[]logEntry](page, `window.sseLog`)
	var names []string
	for _, e := range log {
		names = append(names, e.Event)
	}
	if got, want := strings.Join(names, ","), "comment_created,comment_created"; got != want {
		t.Errorf("events received %s, want %s (no resync)", got, want)
	}
	if got, want := log[len(log)-1].Data, fmt.Sprintf(`{"id":%d,"thread_id":"restart"}`, missed.ID); got != want {
		t.Errorf("replayed event data %s, want %s", got, want)
	}
	if ids := lastIDs.get(); len(ids) < 2 || ids[0] != "" || ids[len(ids)-1] != seenID {
		t.Errorf("Last-Event-ID of the connections %q, want \"\" first and %q after the restart", ids, seenID)
	}
	if before.ID != 1 || missed.ID != 2 {
		t.Errorf("comment ids %d, %d; want 1, 2", before.ID, missed.ID)
	}
}

// lastEventIDs records the Last-Event-ID header of every /events request.
type lastEventIDs struct {
	mu  sync.Mutex
	ids []string
}

func (l *lastEventIDs) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			l.mu.Lock()
			l.ids = append(l.ids, r.Header.Get("Last-Event-ID"))
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *lastEventIDs) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// TestRESTPublishesEachChange: every create, update and delete is
// announced on the thread's topic with the comment's id, and the REST API
// answers with the statuses a client expects.
func TestRESTPublishesEachChange(t *testing.T) {
	t.Parallel()
	srv := start(t, Config{})
	stream := ssetest.Subscribe(t, srv.URL+"/events?topic=comment_thread:t1", nil)
	other := ssetest.Subscribe(t, srv.URL+"/events?topic=comment_thread:t2", nil)

	c := postComment(t, srv.URL, "t1", "Ann", "hello")
	do := func(method, path, body string, want int) string {
		t.Helper()
		return ssetest.Request(t, method, srv.URL+path, "application/json", body, want)
	}
	do("PUT", fmt.Sprintf("/comments/%d", c.ID), `{"text":"hello, edited"}`, http.StatusOK)
	if got := do("GET", fmt.Sprintf("/comments/%d", c.ID), "", http.StatusOK); !strings.Contains(got, `"text":"hello, edited"`) {
		t.Errorf("GET after PUT: %s", got)
	}
	do("DELETE", fmt.Sprintf("/comments/%d", c.ID), "", http.StatusNoContent)

	want := `{"id":1,"thread_id":"t1"}`
	for _, name := range []string{"comment_created", "comment_updated", "comment_deleted"} {
		ev := stream.Next(2 * time.Second)
		if ev.Event != name || ev.Data != want || ev.ID == "" {
			t.Errorf("got event %q id %q data %s, want %q with data %s", ev.Event, ev.ID, ev.Data, name, want)
		}
	}

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/comments/1", "", http.StatusNotFound},
		{"GET", "/comments/abc", "", http.StatusNotFound},
		{"DELETE", "/comments/1", "", http.StatusNotFound},
		{"POST", "/threads/t1/comments", `{"author":"","text":"x"}`, http.StatusBadRequest},
		{"POST", "/threads/t1/comments", `{"author":"a","text":"  "}`, http.StatusBadRequest},
		{"POST", "/threads/t1/comments", `not json`, http.StatusBadRequest},
		{"POST", "/threads/t1/comments", `{"author":"a","text":"x","admin":true}`, http.StatusBadRequest},
		{"POST", "/threads/bad%20id/comments", `{"author":"a","text":"x"}`, http.StatusBadRequest},
		{"GET", "/threads/t1/comments", "", http.StatusOK},
		{"GET", "/health/ready", "", http.StatusOK},
	} {
		do(tc.method, tc.path, tc.body, tc.status)
	}
	// Nothing was published to another thread, and the failed requests
	// published nothing at all.
	postComment(t, srv.URL, "t2", "Ann", "other thread")
	if ev := other.Next(2 * time.Second); ev.Data != `{"id":2,"thread_id":"t2"}` {
		t.Errorf("other thread got %+v first, want comment 2", ev)
	}
}
