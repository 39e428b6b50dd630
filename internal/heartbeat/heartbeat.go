// Package heartbeat schedules the heartbeats of many streams from one
// timer: a min-heap of next-heartbeat deadlines, driven by one goroutine,
// instead of a ticker per stream.
//
// A stream records its writes with Entry.Wrote, which is one atomic store:
// the heap is not touched on the write path. When an entry's deadline
// comes, the scheduler looks at its last write; an entry that wrote within
// the interval is moved to its last write plus the interval without being
// woken, and only an entry idle for a whole interval is woken.
package heartbeat

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Scheduler wakes the entries that have been idle for its interval. It is
// safe for concurrent use; Run drives it.
type Scheduler struct {
	interval time.Duration
	epoch    time.Time // times are kept as durations since epoch (monotonic)

	mu   sync.Mutex
	due  dueHeap
	kick chan struct{} // capacity 1: Run recomputes its timer when an entry goes first
}

// New returns a scheduler that wakes an entry after interval without a
// write.
func New(interval time.Duration) *Scheduler {
	return &Scheduler{interval: interval, epoch: time.Now(), kick: make(chan struct{}, 1)}
}

// Entry is one stream's place in a scheduler.
type Entry struct {
	s     *Scheduler
	c     chan struct{} // capacity 1: a wake-up not yet taken is enough; nil with fn
	fn    func()        // AddFunc's function, called instead of signalling c
	last  atomic.Int64  // last write, in nanoseconds since s.epoch
	due   time.Duration // next deadline, since s.epoch; under s.mu
	index int           // in s.due; -1 once removed
}

// Add registers an entry that last wrote at now; it is first due at now
// plus the interval.
func (s *Scheduler) Add(now time.Time) *Entry {
	return s.add(&Entry{s: s, c: make(chan struct{}, 1)}, now)
}

// AddFunc registers an entry like Add whose wake-up is a call of fn, on
// the scheduler's goroutine with its lock held: fn must not block, nor
// call the scheduler. C of such an entry is nil.
func (s *Scheduler) AddFunc(now time.Time, fn func()) *Entry {
	return s.add(&Entry{s: s, fn: fn}, now)
}

func (s *Scheduler) add(e *Entry, now time.Time) *Entry {
	at := s.since(now)
	e.last.Store(int64(at))
	e.due = at + s.interval
	s.mu.Lock()
	heap.Push(&s.due, e)
	first := e.index == 0
	s.mu.Unlock()
	if first {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return e
}

// C returns the channel that receives a value when the entry has been
// idle for the interval.
func (e *Entry) C() <-chan struct{} { return e.c }

// Wrote records a write at now, which postpones the entry's next wake-up
// to now plus the interval.
func (e *Entry) Wrote(now time.Time) { e.last.Store(int64(e.s.since(now))) }

// Remove takes the entry out of its scheduler; it is not woken again.
// Removing it twice is harmless.
func (e *Entry) Remove() {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.index >= 0 {
		heap.Remove(&s.due, e.index)
	}
}

// Len returns the number of entries.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.due)
}

// Fire wakes the entries that are due at now and idle for the interval,
// reschedules every entry it looked at, and returns the next deadline; ok
// is false when there are no entries.
func (s *Scheduler) Fire(now time.Time) (next time.Time, ok bool) {
	at := s.since(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.due) > 0 && s.due[0].due <= at {
		e := s.due[0]
		if last := time.Duration(e.last.Load()); at-last < s.interval {
			e.due = last + s.interval // wrote since: not idle yet
		} else {
			if e.fn != nil {
				e.fn()
			} else {
				select {
				case e.c <- struct{}{}:
				default:
				}
			}
			e.due = at + s.interval
		}
		heap.Fix(&s.due, 0)
	}
	if len(s.due) == 0 {
		return time.Time{}, false
	}
	return s.epoch.Add(s.due[0].due), true
}

// Run fires the scheduler at each deadline, from one timer, until ctx
// ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTimer(s.interval)
	defer t.Stop()
	for {
		if next, ok := s.Fire(time.Now()); ok {
			t.Reset(time.Until(next))
		} else {
			t.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Scheduler) since(t time.Time) time.Duration { return t.Sub(s.epoch) }

// dueHeap orders entries by deadline, earliest first.
type dueHeap []*Entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*Entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	if c := cap(*h); c > 64 && len(*h) < c/4 {
		*h = append(dueHeap(nil), *h...) // most streams left: give the memory back
	}
	return e
}
