package main_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
	env := []string{"SSE_REDIS_URL=" + redis.URL(), "SSE_JWT_SECRET=" + testSecret, "SSE_PRESENCE=room:*",
		"SSE_PRESENCE_TTL_SECONDS=3", "SSE_PRESENCE_GRACE_SECONDS=5"}
	a := startHubProc(t, bin, freeAddr(t), env...)
	b := startHubProc(t, bin, freeAddr(t), env...)
	watch := watchPresence(t, b.url(), "room:1", "carl")
	openAs(t, a.url(), "room:1", "ann")
	holdAs(t, b.url(), "room:1", "bob")
	waitUsers(t, a.url(), "room:1", 10*time.Second, "ann", "bob", "carl")
	waitUsers(t, b.url(), "room:1", 10*time.Second, "ann", "bob", "carl")

	var out, errOut strings.Builder
	err := main.RunCommand(t.Context(), []string{"presence", "--url", b.url(), "--token", hs256(t, tokenSpec{subscribe: []string{"*"}}), "--topic", "room:1"}, &out, &errOut)
	if err != nil || !strings.HasPrefix(out.String(), "room:1: 3 users, 3 connections\n") || !strings.Contains(out.String(), "ann") {
		t.Errorf("ssevents presence: %v, output %q (stderr %q), want 3 users listed", err, out.String(), errOut.String())
	}

	// kill -9 of hub a: ann leaves, within the TTL, once.
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
}
