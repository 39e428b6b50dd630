package presencetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// A user with three streams joins once, with its streams counted.
func testJoinOncePerUser(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	for range 3 {
		s.Add(topic, "alice", nil)
	}
	s.Add(topic, "bob", nil)
	// bob's join comes after anything of alice's first streams.
	evs := r.waitUntil(t, topic, sse.EventJoin, "bob")
	if n := count(evs, sse.EventJoin, "alice"); n != 1 || len(evs) != 2 {
		t.Fatalf("alice joined %d times (want 1), events %s", n, describe(evs))
	}
	for _, e := range evs {
		if e.ev.Connections < 1 || e.ev.Topic != topic || e.ev.ID == "" || e.ev.Time.IsZero() {
			t.Fatalf("join %+v: want Connections >= 1, the topic, an ID and a Time", e.ev)
		}
	}
	waitSnapshot(t, s, topic, 10, "alice with 3 streams and bob with 1", func(snap sse.PresenceSnapshot) bool {
		b, ok := member(snap, "bob")
		return hasMember(2, 4, "alice", 3)(snap) && ok && b.Connections == 1
	})
}

// Anonymous streams are counted in Connections, never listed, never an
// event; removing more of them than were added changes nothing.
func testAnonymous(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	s.Add(topic, "", nil)
	s.Add(topic, "", json.RawMessage(`{"name":"nobody"}`))
	s.Add(topic, "carol", nil)
	waitSnapshot(t, s, topic, 10, "carol listed alone, 3 connections", func(snap sse.PresenceSnapshot) bool {
		return hasMember(1, 3, "carol", 1)(snap) && len(snap.Members) == 1
	})
	for range 3 {
		s.Remove(topic, "") // the third has no Add
	}
	waitSnapshot(t, s, topic, 10, "carol's stream alone", hasMember(1, 1, "carol", 1))
	s.Add(topic, "", nil)
	waitSnapshot(t, s, topic, 10, "one anonymous stream again, not -1 + 1", hasMember(1, 2, "carol", 1))
	evs := r.waitUntil(t, topic, sse.EventJoin, "carol")
	if len(evs) != 1 {
		t.Fatalf("events %s, want carol's join alone", describe(evs))
	}
}

// Counts are exact as streams come and go, a member in its grace period
// is a user with no connection, and a Remove without its Add is ignored.
func testConnectionCounts(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	add := map[string]int{"a": 2, "b": 1, "c": 3, "": 1}
	for user, n := range add {
		for range n {
			s.Add(topic, user, nil)
		}
	}
	waitSnapshot(t, s, topic, 10, "3 users, 7 connections", counts(3, 7))
	s.Remove(topic, "a")
	s.Remove(topic, "c")
	s.Remove(topic, "c")
	s.Remove(topic, "b")
	s.Remove(topic, "b")       // no Add for it: ignored
	s.Remove(topic, "zed")     // never added
	s.Remove(newTopic(t), "a") // another topic
	snap := waitSnapshot(t, s, topic, 10, "b in its grace period", hasMember(3, 3, "b", 0))
	for _, u := range []string{"a", "c"} {
		if m, ok := member(snap, u); !ok || m.Connections != 1 {
			t.Fatalf("snapshot %+v: want %s with 1 connection", snap, u)
		}
	}
	s.Add(topic, "b", nil)
	waitSnapshot(t, s, topic, 10, "b back with 1 connection (not -1 + 1)", hasMember(3, 4, "b", 1))
}

// A member leaves Grace after its last stream ended, not before, with a
// leave of 0 connections; the topic is then empty.
func testLeaveAfterGrace(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	s.Add(topic, "dave", json.RawMessage(`{"n":1}`))
	s.Add(topic, "dave", nil)
	r.waitUntil(t, topic, sse.EventJoin, "dave")
	s.Remove(topic, "dave")
	start := time.Now()
	s.Remove(topic, "dave")
	evs := r.waitUntil(t, topic, sse.EventLeave, "dave")
	leave := evs[indexOf(evs, sse.EventLeave, "dave", 0)]
	if early := leave.at.Sub(start); early < Grace {
		t.Fatalf("dave left %v after his last stream ended, before the grace of %v", early, Grace)
	}
	if leave.ev.Connections != 0 || !sameJSON(leave.ev.Info, json.RawMessage(`{"n":1}`)) || len(evs) != 2 {
		t.Fatalf("leave %+v of events %s: want 0 connections, dave's info, after the join alone", leave.ev, describe(evs))
	}
	waitSnapshot(t, s, topic, 10, "an empty topic", func(snap sse.PresenceSnapshot) bool {
		return counts(0, 0)(snap) && snap.Members != nil && len(snap.Members) == 0
	})
}

// A member whose stream comes back within the grace period neither
// leaves nor joins again.
func testReconnectWithinGrace(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	s.Add(topic, "erin", nil)
	s.Add(topic, "frank", nil)
	r.waitUntil(t, topic, sse.EventJoin, "frank")
	s.Remove(topic, "erin")
	s.Add(topic, "erin", nil)
	// frank's grace ends after erin's would have: once he left, erin
	// would have left before him.
	s.Remove(topic, "frank")
	evs := r.waitUntil(t, topic, sse.EventLeave, "frank")
	if n := count(evs, sse.EventJoin, "erin") + count(evs, sse.EventLeave, "erin"); n != 1 {
		t.Fatalf("events %s: want erin's first join and nothing more of hers", describe(evs))
	}
	waitSnapshot(t, s, topic, 10, "erin alone, present", hasMember(1, 1, "erin", 1))
}

// A non-nil info replaces the member's, without an event; nil keeps it.
func testInfoReplaced(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	v1, v2 := json.RawMessage(`{"v":1}`), json.RawMessage(`{"v":2,"name":"gus"}`)
	s.Add(topic, "gus", v1)
	evs := r.waitUntil(t, topic, sse.EventJoin, "gus")
	if !sameJSON(evs[0].ev.Info, v1) {
		t.Fatalf("join info %s, want %s", evs[0].ev.Info, v1)
	}
	s.Add(topic, "gus", v2)
	s.Add(topic, "gus", nil)
	snap := waitSnapshot(t, s, topic, 10, "gus with 3 streams", hasMember(1, 3, "gus", 3))
	if m, _ := member(snap, "gus"); !sameJSON(m.Info, v2) {
		t.Fatalf("gus's info %s, want %s (replaced by a non-nil info, kept by nil)", m.Info, v2)
	}
	for range 3 {
		s.Remove(topic, "gus")
	}
	evs = r.waitUntil(t, topic, sse.EventLeave, "gus")
	if len(evs) != 2 || !sameJSON(evs[1].ev.Info, v2) {
		t.Fatalf("events %s, last info %s: want a join and a leave with %s", describe(evs), evs[len(evs)-1].ev.Info, v2)
	}
}

// A snapshot has the exact counts, and lists the members up to its limit.
func testSnapshotLimit(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	users := map[string]bool{}
	for i := range 5 {
		u := fmt.Sprintf("user%d", i)
		users[u] = true
		s.Add(topic, u, nil)
	}
	all := waitSnapshot(t, s, topic, 10, "5 users listed", func(snap sse.PresenceSnapshot) bool {
		return counts(5, 5)(snap) && len(snap.Members) == 5
	})
	checkMembers(t, all, users, 5)
	none := waitSnapshot(t, s, topic, 0, "5 users, none listed", counts(5, 5))
	if none.Members == nil || len(none.Members) != 0 {
		t.Fatalf("limit 0: members %#v, want an empty list", none.Members)
	}
	two := waitSnapshot(t, s, topic, 2, "5 users, 2 listed", counts(5, 5))
	checkMembers(t, two, users, 2)
	empty := waitSnapshot(t, s, newTopic(t), 10, "an unknown topic", counts(0, 0))
	if empty.Members == nil || len(empty.Members) != 0 {
		t.Fatalf("unknown topic: members %#v, want an empty list", empty.Members)
	}
}

// checkMembers fails unless snap lists n different members of users.
func checkMembers(t testing.TB, snap sse.PresenceSnapshot, users map[string]bool, n int) {
	t.Helper()
	listed := map[string]bool{}
	for _, m := range snap.Members {
		if !users[m.User] || listed[m.User] || m.Connections != 1 {
			t.Fatalf("snapshot lists %+v: not one of the users with 1 stream, or twice", m)
		}
		listed[m.User] = true
	}
	if len(listed) != n {
		t.Fatalf("snapshot lists %d members, want %d: %+v", len(listed), n, snap.Members)
	}
}

// 1,000 users joining at once make exactly 1,000 joins, one each.
func testThousandUsers(t testing.TB, stores []sse.PresenceStore) {
	const n = 1000
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { s.Add(topic, fmt.Sprintf("u%04d", i), nil) })
	}
	wg.Wait()
	snap := waitSnapshot(t, s, topic, n, "1,000 users", func(snap sse.PresenceSnapshot) bool {
		return counts(n, n)(snap) && len(snap.Members) == n
	})
	users := map[string]bool{}
	for i := range n {
		users[fmt.Sprintf("u%04d", i)] = true
	}
	checkMembers(t, snap, users, n)
	s.Add(topic, "sentinel", nil) // joins after every other join
	evs := r.waitUntil(t, topic, sse.EventJoin, "sentinel")
	if len(evs) != n+1 {
		t.Fatalf("%d events before the sentinel's join, want %d joins", len(evs)-1, n)
	}
	for u := range users {
		if c := count(evs, sse.EventJoin, u); c != 1 {
			t.Fatalf("%s joined %d times", u, c)
		}
	}
}

// Watch functions get each user's join before its leave, each event
// once, with an ID of its own.
func testWatchOrder(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	users := []string{"h0", "h1", "h2", "h3", "h4"}
	for _, u := range users {
		s.Add(topic, u, nil)
		s.Remove(topic, u)
	}
	r.waitUntil(t, topic, sse.EventLeave, "h4")
	s.Add(topic, "h0", nil) // back after its leave: a second join
	r.waitUntil(t, topic, sse.EventJoin, "h0")
	s.Remove(topic, "h0")
	var evs []seen
	waitFor(t, "h0's second leave", func() (bool, string) {
		evs = r.on(topic)
		return count(evs, sse.EventLeave, "h0") == 2, describe(evs)
	})
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.ev.ID] || e.ev.ID == "" {
			t.Fatalf("event %+v: its ID is empty or seen before; events %s", e.ev, describe(evs))
		}
		ids[e.ev.ID] = true
		if e.ev.Type == sse.EventLeave && e.ev.Connections != 0 {
			t.Fatalf("leave %+v with connections", e.ev)
		}
	}
	for _, u := range users {
		want := []string{sse.EventJoin, sse.EventLeave}
		if u == "h0" {
			want = append(want, want...)
		}
		var got []string
		for _, e := range evs {
			if e.ev.User == u {
				got = append(got, e.ev.Type)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s's events %v, want %v; all %s", u, got, want, describe(evs))
		}
	}
}
