package jsclient_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
)

// TestDemoPage_tabsShareOneStream opens the hub's demo page (which uses
// the client) in four tabs of one browser: the hub holds one stream, and
// every tab shows each event once.
func TestDemoPage_tabsShareOneStream(t *testing.T) {
	r := newRig(t, hubConfig(false), nil)
	home := browsertest.Shared(t).NewPage(t, "about:blank")
	var tabs []*browsertest.Page
	for range 4 {
		tab := home.NewTab(t, r.srv.URL+"/?topic=comments")
		tab.WaitFor("the demo page is open", `document.getElementById('status').dataset.state === 'open'`, 10*time.Second)
		tabs = append(tabs, tab)
	}
	r.waitStreams(t, 1, 5*time.Second)
	id := r.publish(t, "comments", "comment_created", map[string]int{"id": 1})
	for i, tab := range tabs {
		tab.WaitFor(fmt.Sprintf("tab %d shows the event", i), fmt.Sprintf(`document.querySelectorAll('#events tr[data-event="comment_created"]').length === 1 && document.querySelector('#events tr[data-event="comment_created"]').cells[2].textContent === %q`, id), 5*time.Second)
	}
	time.Sleep(100 * time.Millisecond)
	for i, tab := range tabs {
		if n := browsertest.Eval[int](tab, `document.querySelectorAll('#events tr[data-event="comment_created"]').length`); n != 1 {
			t.Errorf("tab %d shows the event %d times", i, n)
		}
	}
	if n := r.hub.App().Events().Connections(); n != 1 {
		t.Errorf("the hub holds %d streams for 4 demo tabs, want 1", n)
	}
}
