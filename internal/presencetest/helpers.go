package presencetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// seen is an event a Watch function got, and when.
type seen struct {
	ev sse.PresenceEvent
	at time.Time
}

// recorder keeps what a store's Watch function got.
type recorder struct {
	mu  sync.Mutex
	evs []seen
}

// watch registers a recorder with each of stores, in their order.
func watch(stores ...sse.PresenceStore) []*recorder {
	out := make([]*recorder, len(stores))
	for i, s := range stores {
		r := &recorder{}
		s.Watch(func(ev sse.PresenceEvent) {
			r.mu.Lock()
			r.evs = append(r.evs, seen{ev: ev, at: time.Now()})
			r.mu.Unlock()
		})
		out[i] = r
	}
	return out
}

// on returns what r got of topic so far.
func (r *recorder) on(topic string) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seen
	for _, s := range r.evs {
		if s.ev.Topic == topic {
			out = append(out, s)
		}
	}
	return out
}

// waitUntil waits until r got an event of topic matching typ and user,
// then returns everything r got of topic.
func (r *recorder) waitUntil(t testing.TB, topic, typ, user string) []seen {
	t.Helper()
	var got []seen
	waitFor(t, fmt.Sprintf("a %s of %q on %s", typ, user, topic), func() (bool, string) {
		got = r.on(topic)
		return indexOf(got, typ, user, 0) >= 0, describe(got)
	})
	return got
}

// indexOf returns the index of the first event of typ and user in evs
// from from on, or -1.
func indexOf(evs []seen, typ, user string, from int) int {
	for i := from; i < len(evs); i++ {
		if evs[i].ev.Type == typ && evs[i].ev.User == user {
			return i
		}
	}
	return -1
}

// count returns how many events of typ and user evs has.
func count(evs []seen, typ, user string) int {
	n := 0
	for _, s := range evs {
		if s.ev.Type == typ && s.ev.User == user {
			n++
		}
	}
	return n
}

// describe lists evs for a failure message.
func describe(evs []seen) string {
	var b strings.Builder
	b.WriteString("[")
	for i, s := range evs {
		if i > 0 {
			b.WriteString(" ")
		}
		if i == 20 && len(evs) > 21 {
			fmt.Fprintf(&b, "... %d more", len(evs)-20)
			break
		}
		fmt.Fprintf(&b, "%s:%q(%d)", s.ev.Type, s.ev.User, s.ev.Connections)
	}
	b.WriteString("]")
	return b.String()
}

// waitFor polls cond until it holds, and fails the test with what was
// seen last when it does not within WaitLimit.
func waitFor(t testing.TB, what string, cond func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; saw %s", WaitLimit, what, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSnapshot polls the snapshot of topic with limit until want holds
// and returns it.
func waitSnapshot(t testing.TB, s sse.PresenceStore, topic string, limit int, what string, want func(sse.PresenceSnapshot) bool) sse.PresenceSnapshot {
	t.Helper()
	var snap sse.PresenceSnapshot
	waitFor(t, what, func() (bool, string) {
		var err error
		snap, err = s.Snapshot(context.Background(), topic, limit)
		if err != nil {
			return false, "error " + err.Error()
		}
		return want(snap), fmt.Sprintf("%+v", snap)
	})
	return snap
}

// counts returns a condition on a snapshot's counts.
func counts(users, conns int) func(sse.PresenceSnapshot) bool {
	return func(s sse.PresenceSnapshot) bool { return s.Users == users && s.Connections == conns }
}

// member returns the member user of snap, if listed.
func member(snap sse.PresenceSnapshot, user string) (sse.PresenceMember, bool) {
	for _, m := range snap.Members {
		if m.User == user {
			return m, true
		}
	}
	return sse.PresenceMember{}, false
}

// hasMember returns a condition: the counts, and user listed with conns.
func hasMember(users, conns int, user string, userConns int) func(sse.PresenceSnapshot) bool {
	return func(s sse.PresenceSnapshot) bool {
		m, ok := member(s, user)
		return counts(users, conns)(s) && ok && m.Connections == userConns
	}
}

// newTopic returns a topic no other test uses.
func newTopic(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return "presencetest." + name + "." + hex.EncodeToString(b[:])
}

// sameJSON reports whether a and b are the same JSON value (null for
// empty), whatever their spacing.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if len(bytes.TrimSpace(a)) > 0 && json.Unmarshal(a, &x) != nil {
		return false
	}
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
