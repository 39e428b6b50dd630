package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/sse"
)

// Presence settings of the tests: a short grace period and TTL, so that
// leaves come within a second or two.
const (
	testGrace = 200 * time.Millisecond
	testTTL   = 1500 * time.Millisecond
)

// presenceOptions returns the tests' options, counting errors in errs.
func presenceOptions(errs *atomic.Int64) sse.PresenceOptions {
	return sse.PresenceOptions{Grace: testGrace, TTL: testTTL, OnError: func(error) {
		if errs != nil {
			errs.Add(1)
		}
	}}
}

// instance is one broker with its presence store and a recorder of what
// its Watch functions saw.
type instance struct {
	*recorder
	store sse.PresenceStore
}

// openInstance opens a broker on url and its presence store, closed when
// the test ends.
func openInstance(t *testing.T, url string, opts sse.PresenceOptions) *instance {
	t.Helper()
	b := open(t, url+presenceQuery(url), sse.BrokerOptions{})
	st, err := b.Presence(opts)
	if err != nil {
		t.Fatalf("Presence: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	in := &instance{recorder: &recorder{}, store: st}
	st.Watch(in.record)
	return in
}

func presenceQuery(url string) string {
	if strings.Contains(url, "?") {
		return "&timeout=" + testTimeout
	}
	return "?timeout=" + testTimeout
}

// recorder keeps the joins and leaves a Watch function was called with.
type recorder struct {
	mu  sync.Mutex
	evs []sse.PresenceEvent
}

func (r *recorder) record(ev sse.PresenceEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// count returns how many events of kind for user on topic were seen;
// user "" counts every user.
func (r *recorder) count(kind, topic, user string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.evs {
		if ev.Type == kind && ev.Topic == topic && (user == "" || ev.User == user) {
			n++
		}
	}
	return n
}

// events returns a copy of what was seen.
func (r *recorder) events() []sse.PresenceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sse.PresenceEvent(nil), r.evs...)
}

// waitCount waits until every instance saw exactly want events of kind for
// user on topic (at least want, then checks it is not more).
func waitCount(t *testing.T, ins []*instance, kind, topic, user string, want int) {
	t.Helper()
	for i, in := range ins {
		brokertest.Eventually(t, fmt.Sprintf("instance %d sees %d %s of %q on %s", i, want, kind, user, topic),
			func() bool { return in.count(kind, topic, user) >= want })
		if got := in.count(kind, topic, user); got != want {
			t.Fatalf("instance %d saw %d %s of %q on %s, want %d: %+v", i, got, kind, user, topic, want, in.events())
		}
	}
}

// barrier makes a throwaway user join and leave topic through in and waits
// until every instance saw both: the events stream is in order, so
// whatever was announced before is seen by then.
func barrier(t *testing.T, in *instance, ins []*instance, topic string) {
	t.Helper()
	user := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	in.store.Add(topic, user, nil)
	waitCount(t, ins, sse.EventJoin, topic, user, 1)
	in.store.Remove(topic, user)
	waitCount(t, ins, sse.EventLeave, topic, user, 1)
}

// waitSnapshot waits until topic's snapshot through in has users and
// conns, and returns it.
func waitSnapshot(t *testing.T, in *instance, topic string, users, conns int) sse.PresenceSnapshot {
	t.Helper()
	var snap sse.PresenceSnapshot
	var err error
	brokertest.Eventually(t, fmt.Sprintf("%s has %d users and %d connections", topic, users, conns), func() bool {
		snap, err = in.store.Snapshot(context.Background(), topic, 1000)
		return err == nil && snap.Users == users && snap.Connections == conns
	})
	return snap
}

// members returns a snapshot's members by user.
func members(snap sse.PresenceSnapshot) map[string]sse.PresenceMember {
	m := make(map[string]sse.PresenceMember, len(snap.Members))
	for _, mem := range snap.Members {
		m[mem.User] = mem
	}
	return m
}

// eventually waits until cond holds, as brokertest.Eventually does, and
// fails with what diag says about the state when it does not.
func eventually(t *testing.T, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(brokertest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, brokertest.WaitTimeout, diag())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
