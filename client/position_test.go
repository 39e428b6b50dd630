package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// c.Position and ResumeFrom: a subscriber that starts from the position
// gets exactly the events published after it, under the URL's path
// prefix too; a denied topic is a 403 StatusError.
func TestPosition(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{Authorize: ssevents.AuthorizeEachTopic(func(_ *http.Request, topic string) (bool, error) {
		return topic != "secret", nil
	})})
	c := newClient(t, client.Config{URL: srv.URL})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := app.Publish(ctx, "a", "note", map[string]int{"n": 0}); err != nil {
		t.Fatal(err)
	}
	pos, err := c.Position(ctx, "a", "b")
	if err != nil || pos == "" {
		t.Fatalf("Position = %q, %v", pos, err)
	}
	want := make([]string, 0, 2)
	for i, topic := range []string{"b", "a"} {
		id, err := app.Publish(ctx, topic, "note", map[string]int{"n": i + 1})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	events := make(chan client.Event, 16)
	go func() {
		_ = c.Subscribe(ctx, []string{"a", "b"}, func(ev client.Event) error {
			events <- ev
			return nil
		}, client.ResumeFrom(pos))
	}()
	for _, id := range want {
		select {
		case ev := <-events:
			if ev.Kind != client.KindEvent || ev.ID != id {
				t.Fatalf("event %+v, want %s", ev, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	var se *client.StatusError
	if _, err := c.Position(ctx, "a", "secret"); !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || !errors.Is(err, sse.ErrForbidden) {
		t.Errorf("Position of a denied topic: %v, want a 403 matching sse.ErrForbidden", err)
	}
}

// A server whose broker cannot tell positions answers 501, matching
// sse.ErrNoPosition and not worth retrying.
func TestPosition_unsupported(t *testing.T) {
	t.Parallel()
	b := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { _ = b.Close() })
	_, srv := newServer(t, ssevents.Config{Broker: plainBroker{b}})
	c := newClient(t, client.Config{URL: srv.URL})
	var se *client.StatusError
	_, err := c.Position(t.Context(), "a")
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotImplemented || !errors.Is(err, sse.ErrNoPosition) || se.Temporary() {
		t.Fatalf("Position = %v, want a permanent 501 matching sse.ErrNoPosition", err)
	}
}

// plainBroker is a broker with nothing but the sse.Broker methods.
type plainBroker struct{ sse.Broker }
