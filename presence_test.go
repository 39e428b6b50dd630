package ssevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// userHeader is the header the tests' authorizer reads the user from.
const userHeader = "X-Test-User"

// presenceConfig tracks "room:*" with a short grace; its authorizer makes
// each stream the user of its X-Test-User header (with info naming it),
// anonymous without one, and denies "secret:*" to everyone but "root".
func presenceConfig(grace time.Duration) ssevents.Config {
	return ssevents.Config{
		Logger:        slog.New(slog.DiscardHandler),
		Presence:      []string{"room:*", "secret:*"},
		PresenceGrace: grace,
		Authorize: func(r *http.Request, topics []string) error {
			user := r.Header.Get(userHeader)
			for _, t := range topics {
				if strings.HasPrefix(t, "secret:") && user != "root" {
					return ssevents.Forbidden(t)
				}
			}
			if user != "" {
				ssevents.SetPresence(r, user, map[string]string{"name": strings.ToUpper(user)})
			}
			return nil
		},
	}
}

// as returns the header of user's requests.
func as(user string) http.Header {
	if user == "" {
		return nil
	}
	return http.Header{userHeader: {user}}
}

// snapshotOf GETs /presence?topic=topic&limit=limit as user and decodes it.
func snapshotOf(t *testing.T, base, topic, user string, limit int) sse.PresenceSnapshot {
	t.Helper()
	resp := get(t, fmt.Sprintf("%s/presence?topic=%s&limit=%d", base, topic, limit), as(user))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /presence?topic=%s: status %d: %s", topic, resp.StatusCode, errorBody(t, resp))
	}
	defer resp.Body.Close()
	var snap sse.PresenceSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// waitSnapshot waits until topic's snapshot has users and connections.
func waitSnapshot(t *testing.T, app *ssevents.App, topic string, users, conns int) sse.PresenceSnapshot {
	t.Helper()
	var snap sse.PresenceSnapshot
	waitFor(t, fmt.Sprintf("%s to have %d users and %d connections", topic, users, conns), 10*time.Second, func() bool {
		var err error
		snap, err = app.Presence(context.Background(), topic)
		return err == nil && snap.Users == users && snap.Connections == conns
	})
	return snap
}

// nextNamed returns the next event of s that is neither a heartbeat nor
// the join of one of self: a stream's own join may follow the snapshot
// that already lists it (the stream watches before it is counted, so that
// no change falls between the two).
func nextNamed(s *stream, self ...string) wire.Event {
	s.t.Helper()
	for {
		ev := s.next(10 * time.Second)
		var ch sse.PresenceEvent
		if ev.Name == sse.EventJoin && json.Unmarshal([]byte(ev.Data), &ch) == nil && slices.Contains(self, ch.User) {
			continue
		}
		if ev.Name != sse.EventHeartbeat {
			return ev
		}
	}
}

// One user's two streams are one member with two connections; an
// anonymous stream counts and is not listed.
func TestPresence_membersAndCounts(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, presenceConfig(time.Hour))
	subscribe(t, srv.URL+"/events?topic=room:1", as("ann"))
	subscribe(t, srv.URL+"/events?topic=room:1,other", as("ann"))
	subscribe(t, srv.URL+"/events?topic=room:1", nil)
	subscribe(t, srv.URL+"/events?topic=other", as("bob")) // untracked: not counted
	waitSnapshot(t, app, "room:1", 1, 3)
	snap := snapshotOf(t, srv.URL, "room:1", "", 10)
	if snap.Topic != "room:1" || len(snap.Members) != 1 || snap.Members[0].User != "ann" || snap.Members[0].Connections != 2 {
		t.Fatalf("snapshot = %+v, want ann with 2 connections and nobody else listed", snap)
	}
	if got := string(snap.Members[0].Info); got != `{"name":"ANN"}` {
		t.Errorf("info = %s, want {\"name\":\"ANN\"}", got)
	}
	if snap := snapshotOf(t, srv.URL, "room:1", "", 0); snap.Users != 1 || snap.Connections != 3 || len(snap.Members) != 0 {
		t.Errorf("limit=0 snapshot = %+v, want the counts and no member", snap)
	}
	if got := app.Metrics().Snapshot().Presence.Streams; got != 3 {
		t.Errorf("presence streams metric = %d, want 3", got)
	}
}

// A stream that asks for presence gets the snapshot first, then the joins
// and leaves of others; a reconnect within the grace is neither.
func TestPresence_streamEvents(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, presenceConfig(300*time.Millisecond))
	watcher := subscribe(t, srv.URL+"/events?topic=room:2&presence=true", as("ann"))
	ev := nextNamed(watcher)
	var snap sse.PresenceSnapshot
	if ev.Name != sse.EventPresence || json.Unmarshal([]byte(ev.Data), &snap) != nil || snap.Users != 1 || snap.Members[0].User != "ann" {
		t.Fatalf("first event = %s %s, want a presence snapshot listing ann", ev.Name, ev.Data)
	}
	if ev.ID != "" {
		t.Errorf("presence event has id %q; presence is not history", ev.ID)
	}
	bob := subscribe(t, srv.URL+"/events?topic=room:2", as("bob"))
	var ch sse.PresenceEvent
	ev = nextNamed(watcher, "ann")
	if ev.Name != sse.EventJoin || json.Unmarshal([]byte(ev.Data), &ch) != nil || ch.User != "bob" || ch.Topic != "room:2" || ch.Connections != 1 || string(ch.Info) != `{"name":"BOB"}` {
		t.Fatalf("event = %s %s, want bob's join", ev.Name, ev.Data)
	}
	// bob reconnects at once: no leave, no join.
	bob.close()
	waitSnapshot(t, app, "room:2", 2, 1)
	subscribe(t, srv.URL+"/events?topic=room:2", as("bob"))
	waitSnapshot(t, app, "room:2", 2, 2)
	publish(t, app, "room:2", "marker", map[string]int{"n": 1})
	if ev := nextNamed(watcher, "ann"); ev.Name != "marker" {
		t.Fatalf("after bob's reconnect within the grace: %s %s, want no presence change before the marker", ev.Name, ev.Data)
	}
	// carl comes and goes: he leaves once the grace has passed.
	carl := subscribe(t, srv.URL+"/events?topic=room:2", as("carl"))
	if ev := nextNamed(watcher, "ann"); ev.Name != sse.EventJoin || !strings.Contains(ev.Data, `"carl"`) {
		t.Fatalf("event = %s %s, want carl's join", ev.Name, ev.Data)
	}
	carl.close()
	ev = nextNamed(watcher, "ann")
	if ev.Name != sse.EventLeave || json.Unmarshal([]byte(ev.Data), &ch) != nil || ch.User != "carl" || ch.Connections != 0 {
		t.Fatalf("event = %s %s, want carl's leave", ev.Name, ev.Data)
	}
}

// GET /presence answers clear errors, and 403 without a name to those who
// may not subscribe.
func TestPresence_errors(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, presenceConfig(time.Hour))
	subscribe(t, srv.URL+"/events?topic=secret:x", as("root"))
	waitSnapshot(t, app, "secret:x", 1, 1)
	for _, tc := range []struct {
		query, user string
		status      int
		want        string
	}{
		{"topic=secret:x", "eve", http.StatusForbidden, "forbidden"},
		{"topic=secret:x", "", http.StatusForbidden, "forbidden"},
		{"topic=untracked", "ann", http.StatusNotFound, "SSE_PRESENCE"},
		{"", "ann", http.StatusBadRequest, "topic"},
		{"topic=bad%20topic", "ann", http.StatusBadRequest, "topic"},
		{"topic=room:1&limit=-1", "ann", http.StatusBadRequest, "limit"},
		{"topic=room:1&limit=x", "ann", http.StatusBadRequest, "limit"},
	} {
		resp := get(t, srv.URL+"/presence?"+tc.query, as(tc.user))
		msg := errorBody(t, resp)
		if resp.StatusCode != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("GET /presence?%s as %q: %d %q, want %d mentioning %q", tc.query, tc.user, resp.StatusCode, msg, tc.status, tc.want)
		}
		if strings.Contains(msg, "root") {
			t.Errorf("GET /presence?%s as %q leaks a member's name: %q", tc.query, tc.user, msg)
		}
	}
	resp := get(t, srv.URL+"/events?topic=room:1&presence=maybe", nil)
	if msg := errorBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "presence") {
		t.Errorf("presence=maybe: %d %q, want 400 naming presence", resp.StatusCode, msg)
	}
	for _, name := range []string{sse.EventPresence, sse.EventJoin, sse.EventLeave} {
		if _, err := app.Publish(context.Background(), "room:1", name, map[string]int{}); !errors.Is(err, sse.ErrInvalidEvent) {
			t.Errorf("publishing the reserved event %q: %v, want ErrInvalidEvent", name, err)
		}
	}
}

// Presence off: GET /presence answers 404 and saying how to turn it on;
// a broker without presence is refused when presence is asked for.
func TestPresence_off(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	resp := get(t, srv.URL+"/presence?topic=a", nil)
	if msg := errorBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(msg, "SSE_PRESENCE") {
		t.Errorf("GET /presence with presence off: %d %q, want 404 naming SSE_PRESENCE", resp.StatusCode, msg)
	}
	if _, err := app.Presence(context.Background(), "a"); !errors.Is(err, sse.ErrNotTracked) {
		t.Errorf("app.Presence with presence off: %v, want ErrNotTracked", err)
	}
	// A third-party broker without presence serves streams as ever.
	third, thirdSrv := newServer(t, ssevents.Config{Broker: noPresenceBroker{app.Broker()}})
	s := subscribe(t, thirdSrv.URL+"/events?topic=a&presence=true", nil)
	id := publish(t, third, "a", "note", map[string]int{"n": 1})
	if ev := nextNamed(s); ev.ID != id || ev.Name != "note" {
		t.Errorf("stream of a broker without presence: %+v, want the published event", ev)
	}
	_, err := ssevents.New(ssevents.Config{Presence: []string{"*"}, Broker: noPresenceBroker{app.Broker()}})
	if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(err.Error(), "keeps no presence") {
		t.Errorf("New with a broker without presence: %v, want ErrInvalidConfig saying it keeps no presence", err)
	}
	_, err = ssevents.New(ssevents.Config{Presence: []string{"*"}, PresenceWebhookURL: "http://127.0.0.1:1/hook"})
	if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(err.Error(), "SSE_PRESENCE_WEBHOOK_SECRET") {
		t.Errorf("New with a webhook URL and no secret: %v, want ErrInvalidConfig naming SSE_PRESENCE_WEBHOOK_SECRET", err)
	}
}

// noPresenceBroker is a third-party broker: a Broker and nothing more.
type noPresenceBroker struct{ sse.Broker }
