package ssevents_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

func TestPublishMiddleware(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{MaxMessageSize: 1024})
	status := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("mode") {
		case "404":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"no such ticket"}`)
		case "text":
			_, _ = io.WriteString(w, "ok")
		case "big":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `"`+strings.Repeat("x", 2000)+`"`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "status": "closed"})
		}
	}
	app.Handle("POST /tickets/{id}/status", app.PublishEvent("ticket:{id},tickets", "ticket_status_changed", http.HandlerFunc(status)))
	app.Handle("POST /bad/{id}", app.PublishEvent("bad topic {id}", "x", http.HandlerFunc(status)))

	s := subscribe(t, srv.URL+"/events?topic=ticket:42,tickets", nil)
	waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })

	post := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{"status":"closed"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	resp, body := post("/tickets/42/status")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(body, `"id":"42"`) {
		t.Fatalf("response changed: %d %s", resp.StatusCode, body)
	}
	ev := s.next(2 * time.Second)
	if ev.Name != "ticket_status_changed" || ev.Data != `{"id":"42","status":"closed"}` {
		t.Fatalf("event %+v", ev)
	}

	// No event for a non-2xx answer, a non-JSON body, a body over the
	// limit, or a topic that is invalid once filled; the response is the
	// handler's in every case.
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/tickets/42/status?mode=404", 404, "no such ticket"},
		{"/tickets/42/status?mode=text", 200, "ok"},
		{"/tickets/42/status?mode=big", 200, strings.Repeat("x", 2000)},
		{"/bad/1", 201, `"status":"closed"`},
	} {
		resp, body := post(tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: response %d %q changed", tc.path, resp.StatusCode, body)
		}
	}
	s.expectNone(200 * time.Millisecond)
	if got := app.Metrics().Snapshot().Messages.PublishErrors; got != 3 {
		t.Errorf("publish_errors = %d, want 3 (text, big, bad topic)", got)
	}
}

func TestPublishMiddlewareBrokerDown(t *testing.T) {
	t.Parallel()
	broker := memory.New(sse.BrokerOptions{})
	app, srv := newServer(t, ssevents.Config{Broker: broker})
	app.Handle("POST /x", app.PublishEvent("x", "created", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})))
	broker.Close()
	resp, err := http.Post(srv.URL+"/x", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("a publish failure changed the response: %d %s", resp.StatusCode, body)
	}
	if got := app.Metrics().Snapshot().Messages.PublishErrors; got != 1 {
		t.Errorf("publish_errors = %d, want 1", got)
	}
}

func TestPublisherFromRequestContext(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	app.HandleFunc("POST /comments", func(w http.ResponseWriter, r *http.Request) {
		p, ok := ssevents.PublisherFrom(r.Context())
		if !ok {
			http.Error(w, "no publisher in context", 500)
			return
		}
		id, err := p.Publish(r.Context(), "comments", "comment_created", map[string]int{"id": 7})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(w, id)
	})
	s := subscribe(t, srv.URL+"/events?topic=comments", nil)
	waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
	resp, err := http.Post(srv.URL+"/comments", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ev := s.next(2 * time.Second); ev.ID != string(id) || ev.Data != `{"id":7}` {
		t.Fatalf("event %+v, want id %s", ev, id)
	}
	if _, ok := ssevents.PublisherFrom(context.Background()); ok {
		t.Errorf("PublisherFrom found a publisher in a bare context")
	}
}
