package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// next calls Next on in with a short deadline: nil when nothing is due.
func next(t *testing.T, in *instance, limit int) []sse.PresenceEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	evs, err := in.store.Next(ctx, limit)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
	return evs
}

// TestPresenceOutbox: two instances with an outbox share it: each change
// is handed out once while the one it went to acks; an unacked one is
// handed out again, here after its consumer instance died.
func TestPresenceOutbox(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := presenceOptions(nil)
	opts.Outbox = true
	a := openInstance(t, srv.URL(), opts)
	b := openInstance(t, srv.URL(), opts)
	const topic, n = "outbox", 10
	for i := range n {
		[]*instance{a, b}[i%2].store.Add(topic, "u"+strconv.Itoa(i), nil)
	}
	got := map[string]int{}
	eventually(t, "every join handed out", func() bool {
		for _, in := range []*instance{a, b} {
			evs := next(t, in, 3)
			for _, ev := range evs {
				if ev.Type != sse.EventJoin || ev.Topic != topic {
					t.Fatalf("outbox handed out %+v", ev)
				}
				got[ev.ID]++
			}
			if err := in.store.Ack(context.Background(), evs); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		return len(got) >= n
	}, func() string { return strconv.Itoa(len(got)) })
	for _, in := range []*instance{a, b} {
		for _, ev := range next(t, in, 10) {
			got[ev.ID]++
		}
	}
	for id, c := range got {
		if c != 1 {
			t.Fatalf("change %s handed out %d times, want once (acked)", id, c)
		}
	}
	if len(got) != n {
		t.Fatalf("%d changes handed out, want %d", len(got), n)
	}

	// An unacked change goes to B once A, which took it, is dead.
	redis.SetPresenceClaimIdle(b.store, 300*time.Millisecond)
	b.store.Add(topic, "late", nil)
	var taken []sse.PresenceEvent
	eventually(t, "A takes the join of late", func() bool {
		taken = next(t, a, 10)
		return len(taken) > 0
	}, func() string { return "" })
	if len(taken) != 1 || taken[0].User != "late" {
		t.Fatalf("A took %+v, want the join of late", taken)
	}
	redis.AbandonPresence(a.store)
	var again []sse.PresenceEvent
	eventually(t, "B gets the unacked join again", func() bool {
		for _, ev := range next(t, b, 10) {
			if ev.ID == taken[0].ID {
				again = append(again, ev)
			}
		}
		return len(again) > 0
	}, func() string { return "" })
	if err := b.store.Ack(context.Background(), again); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if again[0].User != "late" || again[0].Type != sse.EventJoin || len(again) != 1 {
		t.Fatalf("B got %+v again, want the join of late once", again)
	}

	// Unacked on B itself: B hands it out again once it was idle long
	// enough, and no more once acked.
	b.store.Add(topic, "twice", nil)
	handed := 0
	var id string
	eventually(t, "B hands the join of twice out twice", func() bool {
		for _, ev := range next(t, b, 10) {
			if ev.User == "twice" && (id == "" || ev.ID == id) {
				id = ev.ID
				handed++
				if handed == 2 {
					if err := b.store.Ack(context.Background(), []sse.PresenceEvent{ev}); err != nil {
						t.Fatalf("Ack: %v", err)
					}
				}
			}
		}
		return handed >= 2
	}, func() string { return strconv.Itoa(handed) })
	for range 3 {
		for _, ev := range next(t, b, 10) {
			if ev.ID == id {
				t.Fatalf("the acked join of twice was handed out again")
			}
		}
	}
}

// TestPresenceOutboxRedisRestart: Redis restarts empty, losing the
// outbox's consumer group; Next creates it again and hands out the changes
// that came after.
func TestPresenceOutboxRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := presenceOptions(nil)
	opts.Outbox = true
	a := openInstance(t, srv.URL(), opts)
	a.store.Add("restart", "ann", nil)
	var got []sse.PresenceEvent
	eventually(t, "the join of ann", func() bool {
		got = append(got, next(t, a, 10)...)
		return len(got) > 0
	}, func() string { return "" })
	if err := a.store.Ack(context.Background(), got); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	srv.Restart()
	a.store.Add("restart", "bob", nil)
	got = nil
	eventually(t, "the join of bob after the restart", func() bool {
		got = append(got, next(t, a, 10)...)
		return len(got) > 0
	}, func() string { return "" })
	if len(got) != 1 || got[0].User != "bob" || got[0].Type != sse.EventJoin {
		t.Fatalf("after the restart Next handed out %+v, want the join of bob only (ann's was silent)", got)
	}
}

// TestPresenceOutboxPrune: the consumers that dead instances left in the
// outbox's group, holding nothing, are removed after they were idle long
// enough; one that holds changes stays until they are claimed.
func TestPresenceOutboxPrune(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := presenceOptions(nil)
	opts.Outbox = true
	a := openInstance(t, srv.URL(), opts)
	b := openInstance(t, srv.URL(), opts)
	a.store.Add("prune", "ann", nil)
	eventually(t, "A takes a change and acks it: it is a consumer", func() bool {
		evs := next(t, a, 10)
		if err := a.store.Ack(context.Background(), evs); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		return len(evs) > 0
	}, func() string { return "" })
	redis.AbandonPresence(a.store)
	consumers := func() string {
		return srv.MustDo("XINFO", "CONSUMERS", "{ssevents:presence}:events", "ssevents-presence")
	}
	f := strings.Split(consumers(), "\n")
	if len(f) < 2 || f[0] != "name" {
		t.Fatalf("consumers = %q, want A", f)
	}
	aName := f[1]
	redis.SetPresencePrune(b.store, 100*time.Millisecond, 300*time.Millisecond)
	// B becomes a consumer when it gets ann's leave (A died: TTL).
	eventually(t, "A's consumer removed, B's there", func() bool {
		next(t, b, 10)
		c := consumers()
		return strings.Count(c, "name\n") == 1 && !strings.Contains(c, aName)
	}, consumers)
}
