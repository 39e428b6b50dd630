package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
)

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }

func start(t *testing.T) *testserver.Server {
	t.Helper()
	h, cleanup, err := newServer(ssevents.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, h, cleanup)
}

// addItem POSTs an item as another window would.
func addItem(t *testing.T, srv *testserver.Server, name string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/items", "application/json", bytes.NewBufferString(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/items: %d", resp.StatusCode)
	}
}

// shownJS counts the items of the page named name.
func shownJS(name string) string {
	return `[...document.querySelectorAll('#items li')].filter(li => li.textContent === '` + name + `').length`
}

// The page loads the list with its position; an item is added before the
// page subscribes; subscribing with the position shows it, once, and the
// stream then goes on live.
func TestSubscribeFromRenderedPosition(t *testing.T) {
	t.Parallel()
	srv := start(t)
	page := browsertest.Shared(t).NewPage(t, srv.URL+"/?manual")
	page.WaitFor("list loaded", `document.getElementById('status').dataset.state === 'loaded'`, 10*time.Second)
	if n := browsertest.Eval[int](page, `document.querySelectorAll('#items li').length`); n != 2 {
		t.Fatalf("page shows %d items, want the 2 of the list", n)
	}
	if pos := browsertest.Eval[string](page, `document.getElementById('position').textContent`); pos == "" {
		t.Fatal("the page read no SSE-Position header")
	}
	addItem(t, srv, "eggs") // after the list was read, before the page subscribes
	browsertest.Eval[bool](page, `(window.subscribe(), true)`)
	page.WaitFor("stream open", `document.getElementById('status').dataset.state === 'live'`, 10*time.Second)
	page.WaitFor("the item added before subscribing shows", shownJS("eggs")+` === 1`, 5*time.Second)
	addItem(t, srv, "tea")
	page.WaitFor("a live item shows", shownJS("tea")+` === 1`, 5*time.Second)
	if n := browsertest.Eval[int](page, `document.querySelectorAll('#items li').length`); n != 4 {
		t.Fatalf("page shows %d items, want 4, each once", n)
	}
}

// Without since, the same page misses the item added between its list and
// its stream: what the position is for.
func TestSubscribeWithoutPositionMissesIt(t *testing.T) {
	t.Parallel()
	srv := start(t)
	page := browsertest.Shared(t).NewPage(t, srv.URL+"/?manual&since=off")
	page.WaitFor("list loaded", `document.getElementById('status').dataset.state === 'loaded'`, 10*time.Second)
	addItem(t, srv, "eggs")
	browsertest.Eval[bool](page, `(window.subscribe(), true)`)
	page.WaitFor("stream open", `document.getElementById('status').dataset.state === 'live'`, 10*time.Second)
	addItem(t, srv, "tea")
	page.WaitFor("a live item shows", shownJS("tea")+` === 1`, 5*time.Second)
	if n := browsertest.Eval[int](page, shownJS("eggs")); n != 0 {
		t.Fatalf("without since the page shows the item added before it subscribed (%d): the test proves nothing", n)
	}
}
