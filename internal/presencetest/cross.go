package presencetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// A user with a stream on two instances is one member with 2
// connections: one join and, once both streams ended and the grace
// passed, one leave, seen by every instance.
func testCrossMember(t testing.TB, stores []sse.PresenceStore) {
	topic := newTopic(t)
	recs := watch(stores...)
	stores[0].Add(topic, "kim", nil)
	stores[1].Add(topic, "kim", nil)
	for i, s := range stores {
		waitSnapshot(t, s, topic, 10, fmt.Sprintf("kim with 2 streams on instance %d", i), hasMember(1, 2, "kim", 2))
	}
	for _, r := range recs {
		r.waitUntil(t, topic, sse.EventJoin, "kim")
	}
	stores[0].Remove(topic, "kim")
	for i, s := range stores {
		waitSnapshot(t, s, topic, 10, fmt.Sprintf("kim with 1 stream on instance %d", i), hasMember(1, 1, "kim", 1))
	}
	start := time.Now()
	stores[1].Remove(topic, "kim")
	for i, r := range recs {
		evs := r.waitUntil(t, topic, sse.EventLeave, "kim")
		leave := evs[indexOf(evs, sse.EventLeave, "kim", 0)]
		if len(evs) != 2 || evs[0].ev.Type != sse.EventJoin || evs[0].ev.ID == leave.ev.ID {
			t.Fatalf("instance %d saw %s, want one join and one leave", i, describe(evs))
		}
		if early := leave.at.Sub(start); early < Grace {
			t.Fatalf("instance %d saw kim leave %v after her last stream ended, before the grace of %v", i, early, Grace)
		}
		if want := recs[0].on(topic); evs[0].ev.ID != want[0].ev.ID || leave.ev.ID != want[1].ev.ID {
			t.Fatalf("instance %d saw other IDs than instance 0: %+v, %+v", i, evs, want)
		}
	}
}

// With every instance taking and acking, the outbox delivers each change
// once across the instances.
func testCrossOutbox(t testing.TB, stores []sse.PresenceStore) {
	topic := newTopic(t)
	var mu sync.Mutex
	var got []sse.PresenceEvent
	var errs []error
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for {
				evs, err := s.Next(ctx, 16)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					err = s.Ack(ctx, evs)
				}
				mu.Lock()
				got = append(got, evs...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	users := []string{"x0", "x1", "x2", "x3", "x4"}
	for i, u := range users {
		stores[i%len(stores)].Add(topic, u, nil)
		stores[(i+1)%len(stores)].Add(topic, u, nil)
	}
	for i, u := range users {
		stores[i%len(stores)].Remove(topic, u)
		stores[(i+1)%len(stores)].Remove(topic, u)
	}
	delivered := func(typ, user string) int {
		mu.Lock()
		defer mu.Unlock()
		return slices.IndexFunc(got, func(ev sse.PresenceEvent) bool { return ev.Topic == topic && ev.Type == typ && ev.User == user })
	}
	waitFor(t, "every user's leave delivered", func() (bool, string) {
		for _, u := range users {
			if delivered(sse.EventLeave, u) < 0 {
				return false, "no leave of " + u
			}
		}
		return true, ""
	})
	// The sentinel's join is delivered after every change before it.
	stores[0].Add(topic, "sentinel", nil)
	waitFor(t, "the sentinel's join delivered", func() (bool, string) { return delivered(sse.EventJoin, "sentinel") >= 0, "" })
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("Next or Ack failed: %v", errs)
	}
	per := map[string]int{}
	for _, ev := range got {
		if ev.Topic == topic {
			per[ev.Type+" "+ev.User]++
		}
	}
	for _, u := range users {
		if per[sse.EventJoin+" "+u] != 1 || per[sse.EventLeave+" "+u] != 1 {
			t.Fatalf("delivered %v, want one join and one leave of each user", per)
		}
	}
}
