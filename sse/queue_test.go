package sse_test

import (
	"context"
	"errors"
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
