package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// The Presence option delivers the snapshot first, then joins and leaves,
// decoded; c.Presence reads the snapshot, under the URL's path prefix too.
func TestPresence(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{Presence: []string{"room:*"}, PresenceGrace: 50 * time.Millisecond})
	c := newClient(t, client.Config{URL: srv.URL})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan client.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, []string{"room:1", "other"}, func(ev client.Event) error {
			events <- ev
			return nil
		}, client.Presence())
	}()
	next := func() client.Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return client.Event{}
		}
	}
	if ev := next(); ev.Kind != client.KindPresence || ev.Topic != "room:1" || ev.Presence == nil || ev.Presence.Connections != 1 || ev.Presence.Users != 0 {
		t.Fatalf("first event %+v, want the snapshot of room:1 with this anonymous stream", ev)
	}
	// A second, anonymous stream is no join; a publish is an event as usual.
	id, err := app.Publish(ctx, "room:1", "note", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Kind != client.KindEvent || ev.ID != id {
		t.Fatalf("event %+v, want the published one", ev)
	}
	snap, err := c.Presence(ctx, "room:1")
	if err != nil || snap.Topic != "room:1" || snap.Connections != 1 || snap.Members == nil {
		t.Fatalf("Presence = %+v, %v", snap, err)
	}
	var se *client.StatusError
	if _, err := c.Presence(ctx, "other"); !errors.As(err, &se) || se.StatusCode != http.StatusNotFound || !errors.Is(err, sse.ErrNotTracked) {
		t.Errorf("Presence of an untracked topic: %v, want a 404 matching sse.ErrNotTracked", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe ended with %v, want context.Canceled", err)
	}

	// A prefix in the client's URL prefixes /presence too.
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", app))
	prefixed := httptest.NewServer(mux)
	defer prefixed.Close()
	pc := newClient(t, client.Config{URL: prefixed.URL + "/api"})
	if snap, err := pc.Presence(t.Context(), "room:1"); err != nil || snap.Topic != "room:1" {
		t.Errorf("Presence under /api: %+v, %v", snap, err)
	}
}
