package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// entriesKey is the Redis hash of topic's presence entries.
func entriesKey(topic string) string { return "ssevents:presence:{" + topic + "}:e" }

// waitReaped waits until topic's entries hash on srv holds n tombstones
// (reaped entries) of user: the moment a reap has happened.
func waitReaped(t *testing.T, srv *redistest.Server, topic, user string, n int) {
	t.Helper()
	var all string
	eventually(t, "reaped entries of "+user+" on "+topic, func() bool {
		var err error
		all, err = srv.Do("HGETALL", entriesKey(topic))
		f := strings.Split(all, "\n")
		got := 0
		for i := 0; err == nil && i+1 < len(f); i += 2 {
			if strings.HasSuffix(f[i], "|"+user) && f[i+1] == "-1" {
				got++
			}
		}
		return got >= n
	}, func() string { return all })
}

// TestPresenceTwoInstances: one member with streams on two instances is
// one member with two connections; every instance sees one join, then,
// Grace after its last stream ended, one leave.
func TestPresenceTwoInstances(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := openInstance(t, srv.URL(), presenceOptions(nil))
	b := openInstance(t, srv.URL(), presenceOptions(nil))
	c := openInstance(t, srv.URL(), presenceOptions(nil))
	all := []*instance{a, b, c}
	const topic = "room:1"
	a.store.Add(topic, "ann", json.RawMessage(`{"name":"Ann"}`))
	waitCount(t, all, sse.EventJoin, topic, "ann", 1)
	b.store.Add(topic, "ann", nil)
	a.store.Add(topic, "", nil) // anonymous: counted, never listed
	snap := waitSnapshot(t, c, topic, 1, 3)
	if m := members(snap)["ann"]; len(snap.Members) != 1 || m.Connections != 2 || string(m.Info) != `{"name":"Ann"}` {
		t.Fatalf("snapshot on C = %+v, want ann with 2 connections and her info", snap)
	}
	waitCount(t, all, sse.EventJoin, topic, "ann", 1)
	ev := a.events()[0]
	if ev.ID == "" || ev.Connections < 1 || string(ev.Info) != `{"name":"Ann"}` {
		t.Fatalf("join = %+v", ev)
	}
	for i, in := range all {
		if got := in.events()[0]; got.ID != ev.ID {
			t.Fatalf("instance %d saw join id %s, A saw %s", i, got.ID, ev.ID)
		}
	}
	if snap, _ := c.store.Snapshot(context.Background(), topic, 0); len(snap.Members) != 0 || snap.Users != 1 {
		t.Fatalf("snapshot with limit 0 = %+v, want counts only", snap)
	}

	a.store.Remove(topic, "ann")
	b.store.Remove(topic, "ann")
	a.store.Remove(topic, "")
	waitCount(t, all, sse.EventLeave, topic, "ann", 1)
	waitSnapshot(t, b, topic, 0, 0)
	barrier(t, c, all, topic)
	waitCount(t, all, sse.EventJoin, topic, "ann", 1)
	waitCount(t, all, sse.EventLeave, topic, "ann", 1)
	for i, in := range all {
		if evs := in.events(); evs[0].Type != sse.EventJoin || evs[1].Type != sse.EventLeave || evs[1].User != "ann" {
			t.Fatalf("instance %d saw %+v, want ann's join, then her leave, then the barrier's", i, evs)
		}
	}
}

// TestPresenceReconnectWithinGrace: a stream that ends on A and starts
// again on B within the grace period, and a hub whose store closed
// (a restart) and whose members reconnect to a new process, are neither
// leaves nor joins.
func TestPresenceReconnectWithinGrace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := presenceOptions(nil)
	opts.Grace = 2 * testTTL // long enough for the reconnects, whatever the machine's load
	a := openInstance(t, srv.URL(), opts)
	b := openInstance(t, srv.URL(), opts)
	const topic = "room:2"
	a.store.Add(topic, "ann", nil)
	a.store.Add(topic, "bob", nil)
	a.store.Add(topic, "cat", nil) // does not come back after the restart
	waitCount(t, []*instance{a, b}, sse.EventJoin, topic, "cat", 1)
	a.store.Remove(topic, "ann")
	b.store.Add(topic, "ann", nil) // the reconnect, on B
	waitReaped(t, srv, topic, "ann", 1)

	// A hub restart: A's store closes, a new process takes bob.
	if err := a.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitSnapshot(t, b, topic, 3, 1)
	c := openInstance(t, srv.URL(), opts)
	c.store.Add(topic, "bob", nil)
	waitSnapshot(t, b, topic, 3, 2)
	waitReaped(t, srv, topic, "bob", 1)
	waitCount(t, []*instance{b}, sse.EventLeave, topic, "cat", 1)
	waitSnapshot(t, b, topic, 2, 2)
	barrier(t, c, []*instance{b, c}, topic)
	for user, leaves := range map[string]int{"ann": 0, "bob": 0, "cat": 1} {
		if j, l := b.count(sse.EventJoin, topic, user), b.count(sse.EventLeave, topic, user); j != 1 || l != leaves {
			t.Fatalf("%s: %d joins and %d leaves, want 1 and %d: %+v", user, j, l, leaves, b.events())
		}
	}
}

// TestPresenceAbandonedInstance: the members of an instance that stopped
// without Close (kill -9) leave within TTL, once, on every other instance.
func TestPresenceAbandonedInstance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := openInstance(t, srv.URL(), presenceOptions(nil))
	b := openInstance(t, srv.URL(), presenceOptions(nil))
	c := openInstance(t, srv.URL(), presenceOptions(nil))
	const topic = "room:3"
	for _, u := range []string{"ann", "bob"} {
		a.store.Add(topic, u, nil)
	}
	b.store.Add(topic, "carol", nil)
	c.store.Add(topic, "bob", nil) // bob also has a stream on C: he stays
	waitSnapshot(t, b, topic, 3, 4)
	redis.AbandonPresence(a.store)
	rest := []*instance{b, c}
	waitCount(t, rest, sse.EventLeave, topic, "ann", 1)
	waitSnapshot(t, b, topic, 2, 2)
	barrier(t, b, rest, topic)
	for _, in := range rest {
		for u, want := range map[string]int{"ann": 1, "bob": 0, "carol": 0} {
			if got := in.count(sse.EventLeave, topic, u); got != want {
				t.Fatalf("%d leaves of %s, want %d: %+v", got, u, want, in.events())
			}
		}
	}
}

// TestPresenceRedisRestart: Redis restarts empty; the members are back
// within one refresh, with no join and no leave.
func TestPresenceRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var errs atomic.Int64
	a := openInstance(t, srv.URL(), presenceOptions(&errs))
	b := openInstance(t, srv.URL(), presenceOptions(&errs))
	const topic = "room:4"
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	for i, u := range users {
		[]*instance{a, b}[i%2].store.Add(topic, u, nil)
	}
	a.store.Add(topic, "u0", nil)
	waitSnapshot(t, a, topic, len(users), len(users)+1)
	waitCount(t, []*instance{a, b}, sse.EventJoin, topic, "", len(users))
	srv.Restart()
	restarted := time.Now()
	snap := waitSnapshot(t, b, topic, len(users), len(users)+1)
	// One refresh (TTL/3), after a reconnection backoff of at most a
	// second, plus room for a loaded machine.
	if d := time.Since(restarted); d > testTTL/3+2*time.Second {
		t.Fatalf("members back %v after the restart, want within a refresh", d)
	}
	if m := members(snap)["u0"]; m.Connections != 2 {
		t.Fatalf("u0 after the restart = %+v, want 2 connections", m)
	}
	barrier(t, a, []*instance{a, b}, topic)
	for i, in := range []*instance{a, b} {
		j := in.count(sse.EventJoin, topic, "") - 1 // the barrier's
		if l := in.count(sse.EventLeave, topic, "") - 1; j != len(users) || l != 0 {
			t.Fatalf("instance %d: %d joins and %d leaves of members, want %d and 0: %+v", i, j, l, len(users), in.events())
		}
	}
}

// TestPresenceUnavailable: with Redis down, Snapshot fails with
// ErrUnavailable and OnError counts; Add keeps the count, synced when
// Redis is back.
func TestPresenceUnavailable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var errs atomic.Int64
	a := openInstance(t, srv.URL(), presenceOptions(&errs))
	srv.Kill()
	a.store.Add("room:5", "ann", nil)
	if _, err := a.store.Snapshot(context.Background(), "room:5", 10); !errors.Is(err, sse.ErrUnavailable) {
		t.Fatalf("Snapshot with Redis down = %v, want ErrUnavailable", err)
	}
	brokertest.Eventually(t, "failures counted", func() bool { return errs.Load() >= 2 })
	srv.Restart()
	waitSnapshot(t, a, "room:5", 1, 1)
	waitCount(t, []*instance{a}, sse.EventJoin, "room:5", "ann", 1)
}

// TestPresenceReapedEntryRejoins: an entry reaped while its instance still
// has streams (the instance stalled past TTL; here its expiry is moved
// back by hand) is a leave, and its re-assert by the next refresh is a
// real join, not a silent one.
func TestPresenceReapedEntryRejoins(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := openInstance(t, srv.URL(), presenceOptions(nil))
	b := openInstance(t, srv.URL(), presenceOptions(nil))
	both := []*instance{a, b}
	const topic = "stall"
	a.store.Add(topic, "ann", nil)
	waitCount(t, both, sse.EventJoin, topic, "ann", 1)
	entry := srv.MustDo("HKEYS", entriesKey(topic))
	srv.MustDo("ZADD", "ssevents:presence:{"+topic+"}:x", "0", entry)
	srv.MustDo("ZADD", "{ssevents:presence}:index", "0", topic)
	waitCount(t, both, sse.EventLeave, topic, "ann", 1)
	waitCount(t, both, sse.EventJoin, topic, "ann", 2)
	waitSnapshot(t, b, topic, 1, 1)
	barrier(t, b, both, topic)
	waitCount(t, both, sse.EventLeave, topic, "ann", 1)
	waitCount(t, both, sse.EventJoin, topic, "ann", 2)
}
