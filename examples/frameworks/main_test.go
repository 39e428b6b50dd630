package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
)

func start(t *testing.T, framework string) *testserver.Server {
	t.Helper()
	h, cleanup, err := newServer(framework, ssevents.Config{Retry: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, h, cleanup)
}

// TestAdapters: in each router, the App's endpoints answer, a posted
// message reaches a subscriber as message_posted with exactly the JSON
// the POST answered, and a refused post publishes nothing.
func TestAdapters(t *testing.T) {
	t.Parallel()
	for framework := range routers {
		t.Run(framework, func(t *testing.T) {
			t.Parallel()
			srv := start(t, framework)
			get := func(path string, want int) (string, http.Header) {
				t.Helper()
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != want {
					t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, want, b)
				}
				return string(b), resp.Header
			}
			if _, h := get("/", http.StatusOK); h.Get("X-Framework") != framework {
				t.Errorf("page served by %q, want %q", h.Get("X-Framework"), framework)
			}
			get("/health", http.StatusOK)
			get("/health/live", http.StatusOK)
			if body, _ := get("/health/ready", http.StatusOK); !strings.Contains(body, `"status":"ready"`) {
				t.Errorf("/health/ready: %s", body)
			}
			get("/events", http.StatusBadRequest) // no topic: the App's JSON 400

			stream := ssetest.Subscribe(t, srv.URL+"/events?topic=room:lobby", nil)
			post := func(room, body string, want int) string {
				t.Helper()
				return string(bytes.TrimSpace([]byte(ssetest.Request(t, http.MethodPost, srv.URL+"/rooms/"+room+"/messages", "application/json", body, want))))
			}
			// The same JSON without a Content-Type, and as curl -d sends
			// it: every framework answers alike.
			ssetest.Request(t, http.MethodPost, srv.URL+"/rooms/other/messages", "", `{"author":"ann","text":"bare"}`, http.StatusCreated)
			ssetest.Request(t, http.MethodPost, srv.URL+"/rooms/other/messages", "application/x-www-form-urlencoded", `{"author":"ann","text":"curl"}`, http.StatusCreated)
			post("lobby", `{"author":"","text":"hi"}`, http.StatusBadRequest)
			post("lobby", `{`, http.StatusBadRequest)
			post("other", `{"author":"ann","text":"elsewhere"}`, http.StatusCreated)
			want := post("lobby", `{"author":"ann","text":"hello from `+framework+`"}`, http.StatusCreated)

			ev := stream.Next(2 * time.Second)
			if ev.Event != eventMessage || ev.Data != want || ev.ID == "" {
				t.Errorf("event %q id %q data %s, want %q with %s", ev.Event, ev.ID, ev.Data, eventMessage, want)
			}
			if body, _ := get("/metrics/prometheus", http.StatusOK); !strings.Contains(body, "sse_connections_current 1") {
				t.Errorf("prometheus metrics lack sse_connections_current 1")
			}
			if body, _ := get("/metrics", http.StatusOK); !strings.Contains(body, `"published":4`) {
				t.Errorf("/metrics: %s, want 4 published", body)
			}
		})
	}
}

// TestUnknownFramework: a wrong --framework is an error naming the choices.
func TestUnknownFramework(t *testing.T) {
	t.Parallel()
	if _, _, err := newServer("rails", ssevents.Config{}); err == nil || !strings.Contains(err.Error(), "chi, gin or echo") {
		t.Errorf("newServer(rails) = %v", err)
	}
}

// TestChatInBrowser: through gin, the router that wraps the response
// writer the most, two pages chat.
func TestChatInBrowser(t *testing.T) {
	t.Parallel()
	srv := start(t, "gin")
	b := browsertest.Shared(t)
	one := b.NewPage(t, srv.URL+"/?room=team")
	two := b.NewPage(t, srv.URL+"/?room=team")
	for _, p := range []*browsertest.Page{one, two} {
		p.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live'`, 5*time.Second)
	}
	one.SetValue("#author", "Ann")
	one.SetValue("#text", "ship it")
	one.Click("button")
	two.WaitFor("message shows in the other window", `document.querySelector('#messages li')?.textContent.endsWith('Annship it')`, 2*time.Second)
}
