package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/internal/redistest"
)

// TestTwoInstancesThroughRedis: two instances of the example share a Redis
// (and, standing in for a database, a store). A comment posted on one
// shows in a page of the other; when the first instance restarts (its
// broker and all), the page catches up from the Redis history with
// Last-Event-ID.
func TestTwoInstancesThroughRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	store := NewStore()
	cfg := Config{SSE: ssevents.Config{BrokerURL: redis.URL()}, Store: store}

	var lastIDs lastEventIDs
	h, cleanup := mustServer(t, cfg)
	a := testserver.Start(t, lastIDs.wrap(h), cleanup)
	b := start(t, cfg)

	browser := browsertest.Shared(t)
	onA := browser.NewPage(t, a.URL+"/?thread=redis")
	onB := browser.NewPage(t, b.URL+"/?thread=redis")
	for _, p := range []*browsertest.Page{onA, onB} {
		p.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live' && window.loadCount === 1`, 5*time.Second)
	}

	onB.SetValue("#author", "Bo")
	onB.SetValue("#text", "posted on instance B")
	onB.Click("#post")
	onA.WaitFor("comment posted on B shows on A",
		`[...document.querySelectorAll('#comments li .text')].some(e => e.textContent === 'posted on instance B')`, 3*time.Second)
	postedAt := browsertest.Eval[int64](onB, `window.postedAt`)
	renderedAt := browsertest.Eval[int64](onA, `window.renderedAt[1]`)
	if d := time.Duration(renderedAt-postedAt) * time.Millisecond; d > time.Second {
		t.Errorf("comment took %v to cross instances, want under 1s", d)
	}
	seenID := browsertest.Eval[string](onA, `window.sseLog.at(-1).id`)

	// Instance A goes away entirely: its App closes its Redis broker.
	a.Stop()
	onA.WaitFor("page shows Offline", `document.getElementById('status').dataset.state === 'offline'`, 5*time.Second)
	missed := postComment(t, b.URL, "redis", "Bo", "posted while A was down")

	h, cleanup = mustServer(t, cfg) // a new App and a new Redis broker
	a.Restart(lastIDs.wrap(h), cleanup)
	onA.WaitFor("missed comment shows after A restarts",
		`[...document.querySelectorAll('#comments li .text')].some(e => e.textContent === 'posted while A was down')`, 5*time.Second)

	if n := browsertest.Eval[int](onA, `window.loadCount`); n != 1 {
		t.Errorf("page reloaded the thread %d times, want once: the missed comment must come from the Redis history", n)
	}
	log := browsertest.Eval[[]logEntry](onA, `window.sseLog`)
	var names []string
	for _, e := range log {
		names = append(names, e.Event)
	}
	if got, want := strings.Join(names, ","), "comment_created,comment_created"; got != want {
		t.Errorf("events received %s, want %s (no resync)", got, want)
	}
	if got := log[len(log)-1].Data; got != `{"id":2,"thread_id":"redis"}` || missed.ID != 2 {
		t.Errorf("replayed event data %s (comment id %d)", got, missed.ID)
	}
	if ids := lastIDs.get(); len(ids) < 2 || ids[len(ids)-1] != seenID {
		t.Errorf("Last-Event-ID of the connections to A %q, want %q after the restart", ids, seenID)
	}
}
