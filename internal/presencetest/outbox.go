package presencetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ssevents/ssevents/sse"
)

// nextUntil calls s.Next until the events it returned include one of
// each of want (type and user on topic) and returns all it returned.
func nextUntil(t testing.TB, s sse.PresenceStore, topic string, want ...[2]string) []sse.PresenceEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	var got []sse.PresenceEvent
	for {
		missing := ""
		for _, w := range want {
			if !slices.ContainsFunc(got, func(ev sse.PresenceEvent) bool { return ev.Topic == topic && ev.Type == w[0] && ev.User == w[1] }) {
				missing = w[0] + " " + w[1]
				break
			}
		}
		if missing == "" {
			return got
		}
		evs, err := s.Next(ctx, 10)
		if err != nil {
			t.Fatalf("Next, waiting for the %s: %v; got %+v", missing, err, got)
		}
		got = append(got, evs...)
	}
}

// Next hands out each change, oldest first; what is not acked again,
// what is acked never.
func testOutbox(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	s.Add(topic, "i1", nil)
	s.Add(topic, "i2", nil)
	first := nextUntil(t, s, topic, [2]string{sse.EventJoin, "i1"}, [2]string{sse.EventJoin, "i2"})
	if len(first) != 2 || first[0].ID == first[1].ID {
		t.Fatalf("Next returned %+v, want i1's join and i2's, each once", first)
	}
	// Two users' joins made at once may reach a shared store in either
	// order (one batch); ack i1's, keep i2's.
	if first[0].User != "i1" {
		first[0], first[1] = first[1], first[0]
	}
	if err := s.Ack(context.Background(), first[:1]); err != nil {
		t.Fatal(err)
	}
	// Unacked, i2's join comes again, with its ID; i1's never.
	again := nextUntil(t, s, topic, [2]string{sse.EventJoin, "i2"})
	for _, ev := range again {
		if ev.ID == first[0].ID {
			t.Fatalf("Next returned i1's acked join again: %+v", again)
		}
	}
	if again[len(again)-1].ID != first[1].ID {
		t.Fatalf("i2's join again with ID %s, first %s", again[len(again)-1].ID, first[1].ID)
	}
	if err := s.Ack(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	s.Remove(topic, "i1")
	leave := nextUntil(t, s, topic, [2]string{sse.EventLeave, "i1"})
	if len(leave) != 1 || leave[0].Connections != 0 {
		t.Fatalf("Next returned %+v, want i1's leave alone", leave)
	}
	if err := s.Ack(context.Background(), leave); err != nil {
		t.Fatal(err)
	}
	// Everything is acked: nothing comes again, past the time an unacked
	// event would.
	ctx, cancel := context.WithTimeout(context.Background(), 2*TTL+Grace)
	defer cancel()
	if evs, err := s.Next(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next after every Ack: %+v, %v; want nothing until ctx is done", evs, err)
	}
}

// Without the outbox, Next returns nothing, when ctx is done.
func testNoOutbox(t testing.TB, stores []sse.PresenceStore) {
	s, topic := stores[0], newTopic(t)
	r := watch(s)[0]
	s.Add(topic, "jo", nil)
	r.waitUntil(t, topic, sse.EventJoin, "jo")
	ctx, cancel := context.WithTimeout(context.Background(), 3*Grace)
	defer cancel()
	if evs, err := s.Next(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next without the outbox: %+v, %v; want nothing until ctx is done", evs, err)
	}
}
