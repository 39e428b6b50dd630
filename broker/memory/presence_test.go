package memory_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/presencetest"
	"github.com/ssevents/ssevents/sse"
)

func TestPresenceConformance(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
		b := memory.New(sse.BrokerOptions{})
		s, err := b.Presence(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
			b.Close()
		})
		return []sse.PresenceStore{s}
	})
}

// TestPresenceConformanceDurable runs the suite on a broker with a data
// directory.
func TestPresenceConformanceDurable(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
		b := openDurable(t, t.TempDir(), sse.BrokerOptions{})
		s, err := b.Presence(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := b.Close(); err != nil { // closes s
				t.Error(err)
			}
		})
		return []sse.PresenceStore{s}
	})
}

// events records what a store's Watch function gets.
type events struct {
	mu  sync.Mutex
	evs []sse.PresenceEvent
}

// watchEvents registers an events with s.
func watchEvents(s sse.PresenceStore) *events {
	e := &events{}
	s.Watch(func(ev sse.PresenceEvent) {
		e.mu.Lock()
		e.evs = append(e.evs, ev)
		e.mu.Unlock()
	})
	return e
}

// get returns the events got so far.
func (e *events) get() []sse.PresenceEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sse.PresenceEvent(nil), e.evs...)
}

// waitEvents waits until e got n events and returns them.
func waitEvents(t *testing.T, e *events, n int) []sse.PresenceEvent {
	t.Helper()
	deadline := time.Now().Add(presencetest.WaitLimit)
	for {
		evs := e.get()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d presence events, got %+v", n, evs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A leave comes at the end of the grace period, with no goroutine per
// member: the store's janitor is one timer (synctest's fake clock tells
// to the nanosecond).
func TestPresenceLeaveOnTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const grace = 100 * time.Millisecond
		b := memory.New(sse.BrokerOptions{})
		defer b.Close()
		s, err := b.Presence(sse.PresenceOptions{Grace: grace, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		e := watchEvents(s)
		for _, u := range []string{"a", "b", "c"} {
			s.Add("t", u, nil)
		}
		synctest.Wait()
		start := time.Now()
		s.Remove("t", "a")
		time.Sleep(grace / 2)
		s.Remove("t", "b")
		s.Remove("t", "c")
		s.Add("t", "c", nil) // back within its grace
		time.Sleep(grace/2 - time.Nanosecond)
		synctest.Wait()
		if evs := e.get(); len(evs) != 3 {
			t.Fatalf("a nanosecond before a's grace ended: %+v, want the 3 joins", evs)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		evs := e.get()
		if len(evs) != 4 || evs[3].User != "a" || evs[3].Type != sse.EventLeave || !evs[3].Time.Equal(start.Add(grace)) {
			t.Fatalf("at the end of a's grace: %+v, want a's leave then", evs)
		}
		time.Sleep(grace / 2)
		synctest.Wait()
		if evs := e.get(); len(evs) != 5 || evs[4].User != "b" {
			t.Fatalf("at the end of b's grace: %+v, want b's leave then, and c staying", evs)
		}
	})
}

// Close ends Next, refuses a second store until then, and the broker's
// Close closes its store.
func TestPresenceClose(t *testing.T) {
	t.Parallel()
	b := memory.New(sse.BrokerOptions{})
	s, err := b.Presence(sse.PresenceOptions{Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Presence(sse.PresenceOptions{}); err == nil {
		t.Fatal("a second store opened while the first is open")
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next(context.Background(), 10)
		done <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Next waiting at Close returned %v, want ErrBrokerClosed", err)
	}
	if _, err := s.Next(context.Background(), 1); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if _, err := s.Snapshot(context.Background(), "t", 1); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Snapshot after Close: %v", err)
	}
	s.Add("t", "u", nil) // ignored, no panic
	if _, err := b.Presence(sse.PresenceOptions{}); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Presence after the broker's Close: %v", err)
	}
}

// The outbox keeps PresenceOutboxCap events, the oldest dropped past it
// and reported to OnError.
func TestPresenceOutboxFull(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reported []error
	b := memory.New(sse.BrokerOptions{})
	defer b.Close()
	s, err := b.Presence(sse.PresenceOptions{Outbox: true, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range memory.PresenceOutboxCap + 2 {
		s.Add("t", "u"+strconv.Itoa(i), nil)
	}
	mu.Lock()
	n := len(reported)
	mu.Unlock()
	if n != 2 || !strings.Contains(reported[0].Error(), "outbox full") {
		t.Fatalf("OnError got %v, want two drops reported", reported)
	}
	evs, err := s.Next(context.Background(), 1)
	if err != nil || len(evs) != 1 || evs[0].User != "u2" {
		t.Fatalf("Next: %+v, %v; want the third join, the two before dropped", evs, err)
	}
}

// Under concurrent streams of many users, the Watch functions are never
// called twice at once, get each user's joins and leaves alternating,
// and may call the store.
func TestPresenceWatchConcurrent(t *testing.T) {
	t.Parallel()
	b := memory.New(sse.BrokerOptions{})
	defer b.Close()
	s, err := b.Presence(sse.PresenceOptions{Grace: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var inside atomic.Int32
	var mu sync.Mutex
	last := map[string]string{} // user -> type of its last event
	var bad []string
	s.Watch(func(ev sse.PresenceEvent) {
		twice := inside.Add(1) != 1
		_, err := s.Snapshot(context.Background(), ev.Topic, 1) // no deadlock
		mu.Lock()
		if twice {
			bad = append(bad, "two Watch calls at once")
		}
		if err != nil {
			bad = append(bad, err.Error())
		}
		if last[ev.User] == ev.Type || (last[ev.User] == "" && ev.Type != sse.EventJoin) {
			bad = append(bad, ev.User+": "+last[ev.User]+" then "+ev.Type)
		}
		last[ev.User] = ev.Type
		mu.Unlock()
		inside.Add(-1)
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				u := "u" + strconv.Itoa(g) + "-" + strconv.Itoa(i%5)
				s.Add("t", u, nil)
				s.Remove("t", u)
			}
		})
	}
	wg.Wait()
	// Every member leaves within its 1 ms grace: wait for the topic to
	// empty, then for the last leave to be delivered.
	deadline := time.Now().Add(presencetest.WaitLimit)
	for {
		snap, err := s.Snapshot(context.Background(), "t", 0)
		mu.Lock()
		left := 0
		for _, typ := range last {
			if typ == sse.EventLeave {
				left++
			}
		}
		mu.Unlock()
		if err == nil && snap.Users == 0 && left == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %+v, %v; %d of 40 users left", snap, err, left)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("Watch: %v", bad[:min(len(bad), 10)])
	}
}
