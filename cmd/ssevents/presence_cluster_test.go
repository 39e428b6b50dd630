package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// presenceWatch is a Go client's presence subscription: every change and
// snapshot it received.
type presenceWatch struct {
	mu      sync.Mutex
	changes []string                         // "join ann", "leave bob", in order
	latest  map[string]*sse.PresenceSnapshot // by topic, the last snapshot
}

// watchPresence subscribes to topic on url as user with presence events,
// reconnecting as clients do, until the test ends.
func watchPresence(t *testing.T, url, topic, user string) *presenceWatch {
	t.Helper()
	return hold(t, url, topic, user, client.Presence())
}

// holdAs subscribes to topic on url as user, reconnecting as browsers do,
// until the test ends.
func holdAs(t *testing.T, url, topic, user string) { hold(t, url, topic, user) }

// hold is watchPresence and holdAs.
func hold(t *testing.T, url, topic, user string, opts ...client.SubscribeOption) *presenceWatch {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Token: hs256(t, tokenSpec{sub: user, subscribe: []string{"*"}}), BackoffInitial: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := &presenceWatch{latest: map[string]*sse.PresenceSnapshot{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Subscribe(ctx, []string{topic}, func(ev client.Event) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			switch ev.Kind {
			case client.KindPresence:
				w.latest[ev.Topic] = ev.Presence
			case client.KindJoin, client.KindLeave:
				w.changes = append(w.changes, ev.Kind.String()+" "+ev.Change.User)
			}
			return nil
		}, opts...)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// count returns how many times change was received.
func (w *presenceWatch) count(change string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.changes {
		if c == change {
			n++
		}
	}
	return n
}

// openAs opens a stream of topic on url as user until the test ends (or
// the hub goes).
func openAs(t *testing.T, url, topic, user string) {
	t.Helper()
	s := subscribe(t, url+"/events?topic="+topic, bearer(hs256(t, tokenSpec{sub: user, subscribe: []string{"*"}})))
	t.Cleanup(func() { s.resp.Body.Close() })
}

// waitUsers waits until GET /presence on url lists exactly users on topic.
func waitUsers(t *testing.T, url, topic string, timeout time.Duration, users ...string) time.Duration {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Token: hs256(t, tokenSpec{subscribe: []string{"*"}})})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last string
	for {
		snap, err := c.Presence(t.Context(), topic)
		var got []string
		for _, m := range snap.Members {
			got = append(got, m.User)
		}
		last = fmt.Sprintf("%v %v (users %d)", err, got, snap.Users)
		if err == nil && snap.Users == len(users) && sameSet(got, users) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("presence of %s on %s: %s after %v, want %v", topic, url, last, timeout, users)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// Two hubs on one Redis share their members; a hub killed with SIGKILL
// has its members leave within SSE_PRESENCE_TTL_SECONDS on the other,
// once; a Redis restart brings every member back within a refresh with
// no leave and no join (the streams that reconnect meanwhile do so within
// the grace period); the CLI shows the members.
func TestPresence_cluster(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	redis := redistest.Start(t)
	hook := newHookCounter(t)
	env := []string{"SSE_REDIS_URL=" + redis.URL(), "SSE_JWT_SECRET=" + testSecret, "SSE_PRESENCE=room:*",
		"SSE_PRESENCE_TTL_SECONDS=3", "SSE_PRESENCE_GRACE_SECONDS=5",
		"SSE_PRESENCE_WEBHOOK_URL=" + hook.url, "SSE_PRESENCE_WEBHOOK_SECRET=" + hookSecret}
	a := startHubProc(t, bin, freeAddr(t), env...)
	b := startHubProc(t, bin, freeAddr(t), env...)
	watch := watchPresence(t, b.url(), "room:1", "carl")
	openAs(t, a.url(), "room:1", "ann")
	holdAs(t, b.url(), "room:1", "bob")
	waitUsers(t, a.url(), "room:1", 10*time.Second, "ann", "bob", "carl")
	waitUsers(t, b.url(), "room:1", 10*time.Second, "ann", "bob", "carl")
	// The webhook gets each join once: once per cluster, not per hub.
	hook.waitFor(t, "join ann", "join bob", "join carl")

	var out, errOut strings.Builder
	err := main.RunCommand(t.Context(), []string{"presence", "--url", b.url(), "--token", hs256(t, tokenSpec{subscribe: []string{"*"}}), "--topic", "room:1"}, &out, &errOut)
	if err != nil || !strings.HasPrefix(out.String(), "room:1: 3 users, 3 connections\n") || !strings.Contains(out.String(), "ann") {
		t.Errorf("ssevents presence: %v, output %q (stderr %q), want 3 users listed", err, out.String(), errOut.String())
	}

	// kill -9 of hub a, once the outbox holds no change unacked (so that
	// none is handed out again: at least once means once without a
	// fault): ann leaves, within the TTL, once.
	waitNoPending(t, redis)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	took := waitUsers(t, b.url(), "room:1", 10*time.Second, "bob", "carl")
	t.Logf("ann left %v after hub a was killed (TTL 3 s)", took)
	if took > 6*time.Second {
		t.Errorf("ann left %v after hub a was killed, want about the TTL (3 s)", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for watch.count("leave ann") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := watch.count("leave ann"); n != 1 {
		t.Errorf("the watcher got %d leaves of ann, want 1 (changes %v)", n, watch.changes)
	}
	hook.waitFor(t, "leave ann")

	// Redis restart: the members are back within a refresh, with no churn.
	watch.mu.Lock()
	before := len(watch.changes)
	watch.mu.Unlock()
	redis.Kill()
	redis.Restart()
	took = waitUsers(t, b.url(), "room:1", 10*time.Second, "bob", "carl")
	t.Logf("members back %v after Redis restarted", took)
	// Absence of churn can only be seen by waiting: a TTL, three refreshes.
	time.Sleep(3 * time.Second)
	waitUsers(t, b.url(), "room:1", time.Second, "bob", "carl")
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if churn := watch.changes[before:]; len(churn) != 0 {
		t.Errorf("after the Redis restart the watcher got %v, want no join and no leave", churn)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for change, ids := range hook.got {
		for id, n := range ids {
			if n != 1 {
				t.Errorf("the webhook got %s (%s) %d times, want once", change, id, n)
			}
		}
		if len(ids) != 1 {
			t.Errorf("the webhook got %d changes %q, want one", len(ids), change)
		}
	}
}

// waitNoPending waits until the Redis broker's presence outbox (the
// consumer group on its events stream) holds no change unacked.
func waitNoPending(t *testing.T, redis *redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := redis.Do("XPENDING", "{ssevents:presence}:events", "ssevents-presence")
		if err == nil && strings.HasPrefix(out, "0") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence changes still unacked after 10 s: %q %v", out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hookSecret signs the presence webhook's requests in the tests.
const hookSecret = "presence-webhook-secret-0123456789"

// hookCounter is a presence webhook that counts each change's deliveries.
type hookCounter struct {
	url string
	mu  sync.Mutex
	got map[string]map[string]int // "join ann" -> id -> deliveries
}

// newHookCounter serves a hookCounter until the test ends; it answers
// 401 to a request whose signature is wrong.
func newHookCounter(t *testing.T) *hookCounter {
	h := &hookCounter{got: map[string]map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(ssevents.PresenceSignatureHeader) != ssevents.SignPresence(hookSecret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev sse.PresenceEvent
		if json.Unmarshal(body, &ev) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		key := ev.Type + " " + ev.User
		if h.got[key] == nil {
			h.got[key] = map[string]int{}
		}
		h.got[key][ev.ID]++
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// waitFor waits until the webhook got each of changes.
func (h *hookCounter) waitFor(t *testing.T, changes ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		missing := ""
		for _, c := range changes {
			if len(h.got[c]) == 0 {
				missing = c
			}
		}
		h.mu.Unlock()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not get %q within 10 s", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
