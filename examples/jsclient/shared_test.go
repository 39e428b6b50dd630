package jsclient_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
)

// topicsOf is the topics tab i subscribes to: some a, some b, some both.
func topicsOf(i int) []string { return [][]string{{"a"}, {"b"}, {"a", "b"}}[i%3] }

// TestClient_tenTabsOneStream opens ten tabs of one origin over HTTP/1.1
// (where a browser allows six connections per host): the hub holds one
// stream, for the union of their topics, and each tab receives the events
// of its own topics, once.
func TestClient_tenTabsOneStream(t *testing.T) {
	r := newRig(t, hubConfig(false), nil)
	home := browsertest.Shared(t).NewPage(t, "about:blank") // holds the browser context
	var tabs []*browsertest.Page
	for i := range 10 {
		tab := home.NewTab(t, r.page("topic="+strings.Join(topicsOf(i), ",")))
		waitOpen(tab)
		tabs = append(tabs, tab)
	}
	r.waitStreams(t, 1, 5*time.Second)
	var want [2][]string // ids on a, on b
	for n := range 6 {
		topic := []string{"a", "b"}[n%2]
		// Until the hub names each event's topic on the stream, the client
		// of a stream of several topics finds it in the data.
		want[n%2] = append(want[n%2], r.publish(t, topic, "n", map[string]any{"topic": topic, "n": n}))
	}
	for i, tab := range tabs {
		var w []string
		for k, topic := range []string{"a", "b"} {
			if slices.Contains(topicsOf(i), topic) {
				w = append(w, want[k]...)
			}
		}
		slices.Sort(w)
		tab.WaitFor(fmt.Sprintf("tab %d's events", i), fmt.Sprintf(`window.got.filter((e) => e.event === "n").length >= %d`, len(w)), 5*time.Second)
		time.Sleep(50 * time.Millisecond) // room for a duplicate to show
		got := ids(tab, "n")
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("tab %d (%v) received %q, want %q", i, topicsOf(i), got, w)
		}
	}
	if n := r.hub.App().Events().Connections(); n != 1 {
		t.Errorf("the hub holds %d streams for 10 tabs, want 1", n)
	}
}

// TestClient_leaderTakeover closes the tab that holds the stream while
// events flow: another tab takes over, resumes from the last id, and every
// remaining tab receives every event exactly once, in order.
func TestClient_leaderTakeover(t *testing.T) {
	r := newRig(t, hubConfig(false), nil)
	home := browsertest.Shared(t).NewPage(t, "about:blank")
	leader := home.NewTab(t, r.page("topic=a"))
	waitOpen(leader) // alone: it holds the lock
	var others []*browsertest.Page
	for range 3 {
		tab := home.NewTab(t, r.page("topic=a"))
		waitOpen(tab)
		others = append(others, tab)
	}
	r.waitStreams(t, 1, 5*time.Second)
	before := len(r.requests())

	const total = 60
	var (
		mu   sync.Mutex
		want []string
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for n := range total {
			id := r.publish(t, "a", "n", n)
			mu.Lock()
			want = append(want, id)
			mu.Unlock()
			time.Sleep(15 * time.Millisecond)
		}
	})
	others[0].WaitFor("some events before the close", `window.got.length >= 15`, 5*time.Second)
	leader.Close()
	wg.Wait()
	for i, tab := range others {
		tab.WaitFor(fmt.Sprintf("tab %d's events", i), fmt.Sprintf(`window.got.filter((e) => e.event === "n").length >= %d`, total), 10*time.Second)
	}
	time.Sleep(100 * time.Millisecond)
	for i, tab := range others {
		if got := ids(tab, "n"); !slices.Equal(got, want) {
			t.Errorf("tab %d received %d events %q, want the %d published, once each, in order", i, len(got), got, total)
		}
	}
	r.waitStreams(t, 1, 5*time.Second)
	reqs := r.requests()[before:]
	// The new leader's first request resumes with ?lastEventId=.
	if len(reqs) == 0 || reqs[0].URL.Query().Get("lastEventId") == "" {
		t.Errorf("after the leader closed: %d SSE requests, want one resuming from the last id", len(reqs))
	}
}

// TestClient_unionChangeLosesNothing: while events flow on a, tabs asking
// for other topics join, and the stream is re-subscribed for the union
// each time (resuming from the last id, or, before there is one, keeping
// the old stream until the new one is open): the tab on a receives every
// event once, in order.
func TestClient_unionChangeLosesNothing(t *testing.T) {
	r := newRig(t, hubConfig(false), nil)
	home := browsertest.Shared(t).NewPage(t, "about:blank")
	first := home.NewTab(t, r.page("topic=a"))
	waitOpen(first)
	const total = 40
	var (
		mu   sync.Mutex
		want []string
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for n := range total {
			id := r.publish(t, "a", "n", map[string]any{"topic": "a", "n": n})
			mu.Lock()
			want = append(want, id)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	})
	for _, topic := range []string{"b", "c", "d"} {
		waitOpen(home.NewTab(t, r.page("topic="+topic)))
	}
	wg.Wait()
	first.WaitFor("every event on a", fmt.Sprintf(`window.got.filter((e) => e.event === "n").length >= %d`, total), 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if got := ids(first, "n"); !slices.Equal(got, want) {
		t.Errorf("the tab on a received %d events %q, want the %d published, once each, in order", len(got), got, total)
	}
	r.waitStreams(t, 1, 5*time.Second)
}

// TestClient_deniedTopicClosesOnlyItsTab: one tab asks for a topic its
// token may not read. The shared stream's 403 names it: that tab's
// subscription closes with the error, and the stream goes on for the
// others, which keep receiving their events.
func TestClient_deniedTopicClosesOnlyItsTab(t *testing.T) {
	r := newRig(t, hubConfig(true), func(int) time.Duration { return time.Hour })
	home := browsertest.Shared(t).NewPage(t, "about:blank")
	ok := home.NewTab(t, r.page("topic=a&auth=1"))
	waitOpen(ok)
	bad := home.NewTab(t, r.page("topic=secret&auth=1&deny=secret"))
	bad.WaitFor("the denied tab is closed", `window.states.at(-1) === "closed"`, 10*time.Second)
	type refusal struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	s := browsertest.Eval[refusal](bad, `({error: window.lastState.error.message, status: window.lastState.status})`)
	if s.Status != 403 || !strings.Contains(s.Error, `"secret"`) {
		t.Errorf("the denied tab's last state: %+v, want the 403 naming the topic", s)
	}
	waitOpen(ok)
	r.waitStreams(t, 1, 5*time.Second)
	id := r.publish(t, "a", "n", map[string]any{"topic": "a"})
	ok.WaitFor("the other tab still receives", fmt.Sprintf(`window.got.some((e) => e.id === %q)`, id), 5*time.Second)
}
