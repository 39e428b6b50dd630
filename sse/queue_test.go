package sse_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ssevents/ssevents/sse"
)

func TestQueue(t *testing.T) {
	t.Parallel()
	t.Run("drain in order", func(t *testing.T) {
		q := sse.NewQueue(3)
		for _, id := range []string{"1-0", "2-0"} {
			if !q.Push(sse.Event{ID: id}) {
				t.Fatalf("Push(%s) into an open queue returned false", id)
			}
		}
		select {
		case <-q.Notify():
		default:
			t.Fatal("no notification after Push")
		}
		got, err := q.Drain(nil)
		if err != nil || len(got) != 2 || got[0].ID != "1-0" || got[1].ID != "2-0" {
			t.Fatalf("Drain = %v, %v; want 1-0 2-0 and no error", got, err)
		}
	})
	t.Run("overflow ends the queue and counts the drop", func(t *testing.T) {
		q := sse.NewQueue(2)
		dropped := 0
		q.OnDrop = func(n int) { dropped += n }
		q.Push(sse.Event{ID: "1-0"})
		q.Push(sse.Event{ID: "2-0"})
		q.Push(sse.Event{ID: "3-0"})
		if q.Push(sse.Event{ID: "4-0"}) {
			t.Fatal("Push after the overflow returned true")
		}
		got, err := q.Drain(nil)
		if len(got) != 0 || !errors.Is(err, sse.ErrSlowConsumer) {
			t.Fatalf("Drain after overflow = %v, %v; want nothing and ErrSlowConsumer", got, err)
		}
		if dropped != 3 {
			t.Fatalf("OnDrop counted %d, want the 3 events the queue held and was offered", dropped)
		}
	})
	t.Run("fail keeps queued events drainable", func(t *testing.T) {
		q := sse.NewQueue(0)
		q.Push(sse.Event{ID: "1-0"})
		q.Fail(context.Canceled)
		q.Fail(sse.ErrBrokerClosed) // the first error stays
		if q.Push(sse.Event{ID: "2-0"}) {
			t.Fatal("Push after Fail returned true")
		}
		got, err := q.Drain(nil)
		if len(got) != 1 || err != nil {
			t.Fatalf("first Drain after Fail = %v, %v; want the queued event and no error yet", got, err)
		}
		if _, err := q.Drain(nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("second Drain = %v, want context.Canceled", err)
		}
	})
}

// sizedEvent returns an event whose Size is size bytes.
func sizedEvent(size int) sse.Event { return sse.Event{Wire: make([]byte, size)} }

// TestQueueBoundsWhatTheClientLeftUnread checks the bounds of a queue
// whose writer reports what its client has not accepted: exactly MaxBytes
// of events pushed after the client fell behind, never more (a bound
// larger by one event fails it); no bound on the writer's own delay but
// LagQueueFactor; credit for what the client accepts meanwhile; and the
// probe of its connection before it is ended.
func TestQueueBoundsWhatTheClientLeftUnread(t *testing.T) {
	t.Parallel()
	const size, maxBytes = 1000, 10_000
	newQueue := func() *sse.Queue {
		q := sse.NewQueue(128)
		q.MaxBytes = maxBytes
		q.SetUnaccepted(0)
		return q
	}
	// pushUntilEnd pushes events of size bytes until the queue ends, and
	// returns how many it took and the error it ended with.
	pushUntilEnd := func(t *testing.T, q *sse.Queue, limit int) int {
		t.Helper()
		for n := 0; n < limit; n++ {
			if !q.Push(sizedEvent(size)) {
				return n
			}
		}
		t.Fatalf("the queue took %d events and did not end", limit)
		return 0
	}

	t.Run("behind: exactly MaxBytes of new events", func(t *testing.T) {
		q := newQueue()
		q.SetUnaccepted(2500) // the socket is full, with some of an event in it
		if got := pushUntilEnd(t, q, 1000); got != maxBytes/size {
			t.Fatalf("took %d events of %d bytes after the client fell behind, want %d (MaxBytes %d)", got, size, maxBytes/size, maxBytes)
		}
		if _, err := q.Drain(nil); !errors.Is(err, sse.ErrSlowConsumer) {
			t.Fatalf("ended with %v, want ErrSlowConsumer", err)
		}
	})
	t.Run("behind: a push does not wake the writer; catching up does", func(t *testing.T) {
		q := newQueue()
		wakes := 0
		q.SetWake(func() { wakes++ })
		q.SetUnaccepted(1)
		q.Push(sizedEvent(size))
		q.Push(sizedEvent(size))
		if wakes != 0 {
			t.Fatalf("%d wakes while behind, want 0", wakes)
		}
		q.SetUnaccepted(0)
		if wakes != 1 {
			t.Fatalf("%d wakes on catching up with 2 events waiting, want 1", wakes)
		}
	})
	t.Run("not behind: the writer's delay ends it only past LagQueueFactor, as lagging", func(t *testing.T) {
		q := newQueue()
		if got, want := pushUntilEnd(t, q, 100_000), 128*sse.LagQueueFactor; got != want {
			t.Fatalf("took %d events while the client had accepted everything, want %d", got, want)
		}
		if _, err := q.Drain(nil); !errors.Is(err, sse.ErrLagging) {
			t.Fatalf("ended with %v, want ErrLagging", err)
		}
	})
	t.Run("events waiting when the client fell behind are not its own", func(t *testing.T) {
		q := newQueue()
		for range 50 { // 50,000 bytes the writer was late with
			q.Push(sizedEvent(size))
		}
		q.SetUnaccepted(40_000)
		if got := pushUntilEnd(t, q, 1000); got != maxBytes/size {
			t.Fatalf("took %d new events, want %d", got, maxBytes/size)
		}
	})
	t.Run("progress is credited", func(t *testing.T) {
		q := newQueue()
		q.SetUnaccepted(50_000)
		for range 8 {
			q.Push(sizedEvent(size))
		}
		q.SetUnaccepted(46_000) // it took 4,000 bytes: 4,000 of its 8,000 are left
		if got := pushUntilEnd(t, q, 1000); got != (maxBytes-4000)/size {
			t.Fatalf("took %d more events after progress, want %d", got, (maxBytes-4000)/size)
		}
	})
	t.Run("the count bound holds too", func(t *testing.T) {
		q := sse.NewQueue(4)
		q.SetUnaccepted(1)
		if got := pushUntilEnd(t, q, 1000); got != 4 {
			t.Fatalf("took %d small events while behind, want 4", got)
		}
	})
	for _, accepting := range []bool{true, false} {
		t.Run(fmt.Sprintf("over the bound, the probe says accepting=%v", accepting), func(t *testing.T) {
			q := newQueue()
			wakes := 0
			q.SetWake(func() { wakes++ })
			q.SetAccepting(func() bool { return accepting })
			q.SetUnaccepted(1)
			for range maxBytes / size {
				q.Push(sizedEvent(size))
			}
			ok := q.Push(sizedEvent(size))
			if ok != accepting {
				t.Fatalf("push over the bound = %v, want %v", ok, accepting)
			}
			if accepting && (wakes != 1 || q.Len() != maxBytes/size+1) {
				t.Fatalf("after the probe said the socket takes output: %d wakes, %d events waiting; want 1 and %d", wakes, q.Len(), maxBytes/size+1)
			}
			if !accepting && !errors.Is(q.Err(), sse.ErrSlowConsumer) {
				t.Fatalf("ended with %v, want ErrSlowConsumer", q.Err())
			}
		})
	}
}
