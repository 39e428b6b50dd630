package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
)

func start(t *testing.T) *testserver.Server {
	t.Helper()
	h, cleanup, err := newServer(Config{SSE: ssevents.Config{Retry: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, h, cleanup)
}

type logEntry struct {
	Event string `json:"event"`
	Data  string `json:"data"`
}

// TestStatusChangeReachesOwner: support changes a ticket's status in one
// window; the owner's window shows it within a second, with exactly the
// JSON the POST answered; another customer, who may not see the ticket,
// gets nothing.
func TestStatusChangeReachesOwner(t *testing.T) {
	t.Parallel()
	srv := start(t)
	b := browsertest.Shared(t)
	sam := b.NewPage(t, srv.URL+"/?user=sam")
	alice := b.NewPage(t, srv.URL+"/?user=alice")
	bob := b.NewPage(t, srv.URL+"/?user=bob")
	for _, p := range []*browsertest.Page{sam, alice, bob} {
		p.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live'`, 5*time.Second)
	}
	if n := browsertest.Eval[int](alice, `document.querySelectorAll('#tickets tr[data-id]').length`); n != 2 {
		t.Fatalf("alice sees %d tickets, want her 2", n)
	}

	browsertest.Eval[bool](sam, `(() => {
		const s = document.querySelector('tr[data-id="1"] select');
		s.value = 'in_progress';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	alice.WaitFor("new status shows in the owner's window",
		`document.querySelector('tr[data-id="1"] .badge').textContent === 'in progress'`, 3*time.Second)
	sam.WaitFor("the POST answered", `typeof window.lastResponse === 'string'`, 2*time.Second)

	changedAt := browsertest.Eval[int64](sam, `window.changedAt`)
	shownAt := browsertest.Eval[int64](alice, `window.shownAt['1:in_progress']`)
	if d := time.Duration(shownAt-changedAt) * time.Millisecond; d > time.Second {
		t.Errorf("status change took %v to show in the owner's window, want under 1s", d)
	}
	response := browsertest.Eval[string](sam, `window.lastResponse`)
	log := browsertest.Eval[[]logEntry](alice, `window.sseLog`)
	if len(log) != 1 || log[0].Event != "ticket_status_changed" {
		t.Fatalf("alice received %+v, want one ticket_status_changed", log)
	}
	if log[0].Data != response {
		t.Errorf("event data %s\nwant exactly the POST's answer %s", log[0].Data, response)
	}
	if !strings.Contains(response, `"changed_by":"sam"`) || !strings.Contains(response, `"previous":"open"`) {
		t.Errorf("answer %s lacks changed_by or previous", response)
	}
	alice.SaveScreenshot("tickets")

	// bob follows his own tickets only; give a stray event time to arrive.
	time.Sleep(300 * time.Millisecond)
	if n := browsertest.Eval[int](bob, `window.sseLog.length`); n != 0 {
		t.Errorf("bob received %d events about a ticket that is not his", n)
	}
}

// TestAuthorize: Config.Authorize decides once per subscription; no user
// is 401, a topic of someone else's is 403, with a JSON error naming the
// first such topic.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, tc := range []struct {
		user, topics string
		want         int
		denied       string // the topic the 403 names
	}{
		{"", "ticket:1", http.StatusUnauthorized, ""},
		{"mallory", "ticket:1", http.StatusUnauthorized, ""},
		{"alice", "ticket:1", http.StatusOK, ""},
		{"alice", "ticket:1,ticket:3,user:alice", http.StatusOK, ""},
		{"alice", "ticket:2", http.StatusForbidden, "ticket:2"},
		{"alice", "ticket:1,ticket:2,ticket:4", http.StatusForbidden, "ticket:2"},
		{"alice", "user:bob", http.StatusForbidden, "user:bob"},
		{"alice", "ticket:99", http.StatusForbidden, "ticket:99"},
		{"alice", "ticket:x", http.StatusForbidden, "ticket:x"},
		{"alice", "tickets", http.StatusForbidden, "tickets"},
		{"sam", "ticket:1,ticket:2,ticket:3,ticket:4", http.StatusOK, ""},
		{"bob", "ticket:1", http.StatusForbidden, "ticket:1"},
	} {
		t.Run(tc.user+"/"+tc.topics, func(t *testing.T) {
			url := srv.URL + "/events?topic=" + tc.topics
			if tc.user != "" {
				url += "&user=" + tc.user
			}
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("error answer %s %s, want a JSON error", ct, body)
			}
			if tc.denied != "" && !bytes.Contains(body, []byte(`topic \"`+tc.denied+`\"`)) {
				t.Errorf("error %s does not name topic %q", body, tc.denied)
			}
		})
	}
}

// TestLoginCookie: the cookie set by /login identifies the subscriber.
func TestLoginCookie(t *testing.T) {
	t.Parallel()
	srv := start(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"user":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for topic, want := range map[string]int{"ticket:2": http.StatusOK, "ticket:1": http.StatusForbidden} {
		resp, err := c.Get(srv.URL + "/events?topic=" + topic)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("bob's cookie, %s: status %d, want %d", topic, resp.StatusCode, want)
		}
	}
}

// TestPublishMiddleware: only a 2xx answer is published, on the topic
// filled from the path, with the answer's body as data.
func TestPublishMiddleware(t *testing.T) {
	t.Parallel()
	srv := start(t)
	stream := ssetest.Subscribe(t, srv.URL+"/events?topic=ticket:1&user=alice", nil)
	other := ssetest.Subscribe(t, srv.URL+"/events?topic=ticket:3&user=alice", nil)

	post := func(user, path, body string, want int) string {
		t.Helper()
		resp, err := http.Post(srv.URL+path+"?user="+user, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s as %s: status %d, want %d: %s", path, user, resp.StatusCode, want, b)
		}
		return string(bytes.TrimSpace(b))
	}
	post("bob", "/tickets/1/status", `{"status":"closed"}`, http.StatusNotFound)
	post("alice", "/tickets/1/status", `{"status":"resolved"}`, http.StatusForbidden)
	post("sam", "/tickets/1/status", `{"status":"done"}`, http.StatusBadRequest)
	post("sam", "/tickets/1/status", `nope`, http.StatusBadRequest)
	post("", "/tickets/1/status", `{"status":"closed"}`, http.StatusUnauthorized)
	want := post("sam", "/tickets/1/status", `{"status":"waiting"}`, http.StatusOK)

	ev := stream.Next(2 * time.Second)
	if ev.Event != "ticket_status_changed" || ev.Data != want {
		t.Errorf("first event %q %s, want ticket_status_changed %s (failed requests publish nothing)", ev.Event, ev.Data, want)
	}
	want3 := post("alice", "/tickets/3/status", `{"status":"closed"}`, http.StatusOK)
	if ev := other.Next(2 * time.Second); ev.Data != want3 {
		t.Errorf("ticket:3 got %s, want %s", ev.Data, want3)
	}
}
