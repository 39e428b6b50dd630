package memory

import (
	"container/heap"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// graceEntry is a member's end of grace: it leaves at at unless it came
// back meanwhile. An entry whose member came back (conns > 0, or a later
// leaveAt after another grace period) is stale and dropped when due.
type graceEntry struct {
	at    time.Time
	topic string
	m     *presMember
}

// graceHeap holds the ends of grace, the earliest first: one janitor
// goroutine and one timer serve every member, whatever their number.
type graceHeap []graceEntry

func (h graceHeap) Len() int           { return len(h) }
func (h graceHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h graceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface; use push.
func (h *graceHeap) Push(x any) { *h = append(*h, x.(graceEntry)) }

// Pop implements heap.Interface.
func (h *graceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = graceEntry{}
	*h = old[:len(old)-1]
	return e
}

// push adds e and reports whether it is the earliest now (the janitor's
// timer must be set again).
func (h *graceHeap) push(e graceEntry) bool {
	heap.Push(h, e)
	return (*h)[0].m == e.m && (*h)[0].at.Equal(e.at)
}

// janitor makes the members whose grace ended leave, with one timer set
// to the earliest end, until Close.
func (s *presenceStore) janitor() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if next := s.expire(time.Now()); next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// expire makes the members whose grace ended by now leave and returns
// the next end of grace (zero: none).
func (s *presenceStore) expire(now time.Time) time.Time {
	s.mu.Lock()
	var next time.Time
	for len(s.grace) > 0 && !s.closed {
		e := s.grace[0]
		if e.at.After(now) {
			next = e.at
			break
		}
		heap.Pop(&s.grace)
		if e.m.idx < 0 || e.m.conns > 0 || !e.m.leaveAt.Equal(e.at) {
			continue // came back, or left already
		}
		t := s.topics[e.topic]
		t.remove(e.m)
		s.emit(sse.EventLeave, e.topic, e.m, now)
		s.forgetIfEmpty(e.topic, t)
	}
	s.mu.Unlock()
	s.flush()
	return next
}
