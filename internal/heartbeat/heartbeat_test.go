package heartbeat_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents/internal/heartbeat"
)

const interval = 10 * time.Second

// woken reports which entries have a wake-up waiting, taking it.
func woken(entries []*heartbeat.Entry) []bool {
	got := make([]bool, len(entries))
	for i, e := range entries {
		select {
		case <-e.C():
			got[i] = true
		default:
		}
	}
	return got
}

func TestFire(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name   string
		added  []time.Duration // when each entry is added (its last write)
		wrote  []time.Duration // a later write per entry; 0 for none
		remove []bool
		fireAt time.Duration
		want   []bool
		next   time.Duration // the next deadline after firing; 0 for none
	}{
		{name: "nothing due yet", added: []time.Duration{0, time.Second}, fireAt: interval - 1,
			want: []bool{false, false}, next: interval},
		{name: "deadlines fire in order", added: []time.Duration{0, 3 * time.Second, 6 * time.Second}, fireAt: interval + 4*time.Second,
			want: []bool{true, true, false}, next: interval + 6*time.Second},
		{name: "a stream that wrote is not woken early", added: []time.Duration{0, 0}, wrote: []time.Duration{5 * time.Second, 0},
			fireAt: interval, want: []bool{false, true}, next: interval + 5*time.Second},
		{name: "it is woken a full interval after its write", added: []time.Duration{0}, wrote: []time.Duration{5 * time.Second},
			fireAt: interval + 5*time.Second, want: []bool{true}, next: 2*interval + 5*time.Second},
		{name: "a removed stream is never woken", added: []time.Duration{0, 0}, remove: []bool{true, false},
			fireAt: interval, want: []bool{false, true}, next: 2 * interval},
		{name: "all removed leaves nothing", added: []time.Duration{0, 0}, remove: []bool{true, true},
			fireAt: interval, want: []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := heartbeat.New(interval)
			entries := make([]*heartbeat.Entry, len(tt.added))
			for i, d := range tt.added {
				entries[i] = s.Add(at(d))
			}
			for i, d := range tt.wrote {
				if d != 0 {
					entries[i].Wrote(at(d))
				}
			}
			for i, r := range tt.remove {
				if r {
					entries[i].Remove()
					entries[i].Remove() // twice is harmless
				}
			}
			next, ok := s.Fire(at(tt.fireAt))
			got := woken(entries)
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("woken %v, want %v", got, tt.want)
				}
			}
			if wantOK := tt.next != 0; ok != wantOK || ok && !next.Equal(at(tt.next)) {
				t.Fatalf("next deadline %v (%v), want %v (%v)", next.Sub(t0), ok, tt.next, wantOK)
			}
			if want := len(tt.added) - count(tt.remove); s.Len() != want {
				t.Fatalf("%d entries left, want %d", s.Len(), want)
			}
		})
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Many idle entries share one timer: Run wakes each one once per interval,
// staggered by when it was added, and none after it is removed.
func TestRunWakesIdleEntries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		s := heartbeat.New(interval)
		var wg sync.WaitGroup
		wg.Go(func() { s.Run(ctx) })
		const n = 100
		entries := make([]*heartbeat.Entry, n)
		for i := range entries {
			entries[i] = s.Add(time.Now())
			time.Sleep(time.Second / n)
		}
		// 1 s after adding the first: none is due yet.
		synctest.Wait()
		if got := count(woken(entries)); got != 0 {
			t.Fatalf("%d woken before the interval", got)
		}
		// Half of them have been idle for the interval.
		time.Sleep(interval - time.Second/2 - time.Millisecond)
		synctest.Wait()
		if got := count(woken(entries)); got != n/2 {
			t.Fatalf("%d woken half way through adding, want %d", got, n/2)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := count(woken(entries)); got != n/2 {
			t.Fatalf("%d woken after the rest were due, want %d", got, n/2)
		}
		for _, e := range entries {
			e.Remove()
		}
		time.Sleep(3 * interval)
		synctest.Wait()
		if got := count(woken(entries)); got != 0 || s.Len() != 0 {
			t.Fatalf("after removal: %d woken, %d entries left", got, s.Len())
		}
		cancel()
		wg.Wait()
	})
}
