package sse

import (
	"errors"
	"sync"
)

// Queue is the bounded, non-blocking event queue behind one subscription.
// Brokers push into it from their fan-out loop; the SSE handler drains it.
// Push never blocks: when the queue is full, it ends with ErrSlowConsumer
// (or ErrLagging) and drops what it held, so one slow reader costs its
// publishers and the other readers nothing. Broker implementations embed
// it in their Subscription. Queue is safe for concurrent use.
//
// What counts as full depends on whether the writer tells the queue what
// its client has not accepted (SetUnaccepted, called by the SSE handler on
// every I/O path). A queue whose writer never does is full at max events,
// or at MaxBytes bytes of events. A queue whose writer does judges the
// client, not the server: while the client has accepted all that was
// written, events wait only because the writer has not run yet (the
// server's own lag), and the queue holds up to LagQueueFactor times max of
// them; once the client stops accepting, the events pushed from then on,
// less what it accepts meanwhile, are bounded by max and MaxBytes.
type Queue struct {
	mu     sync.Mutex
	events []Event // grows on demand up to its bound, so an idle queue costs no buffer
	max    int
	bytes  int // Size of the waiting events
	err    error
	notify chan struct{} // capacity 1: one pending wake-up is enough, pushes coalesce; made by the first Notify
	wakeFn func()        // SetWake's function, called instead of signalling notify

	// Set by SetUnaccepted.
	tracked     bool        // the writer reports what its client has not accepted
	unaccepted  int         // bytes written that the client has not accepted; > 0: behind
	behindCount int         // events pushed since the client fell behind, less its progress
	behindBytes int         // their Size, less the bytes it accepted since
	accepting   func() bool // SetAccepting's probe

	// OnDrop, when set before the first Push, is called with the number of
	// events dropped when the queue overflows.
	OnDrop func(n int)
	// MaxBytes, when set before the first Push, bounds the bytes of the
	// waiting events (Event.Size) as well as their number. A single event
	// larger than MaxBytes is still accepted into an empty queue whose
	// client is not behind.
	MaxBytes int
}

// LagQueueFactor is how many times its bound in events a queue holds while
// its client has accepted everything written to it (see Queue): events that
// wait only for the server's writer. It bounds the memory of a server that
// falls far behind (a queued event costs its queue about 120 bytes; its
// payload is shared); past it the queue ends with ErrLagging, not
// ErrSlowConsumer, since the client did nothing wrong. 16 x the default
// 128 events is 2,048 events, seconds of lag at any rate a stream can be
// read at.
const LagQueueFactor = 16

// queueRetainCap is the largest backing array a drained queue keeps for
// reuse: a connection that usually holds a few events reuses its buffer,
// one that had a burst gives it back (32 events are about 3 KB).
const queueRetainCap = 32

// NewQueue returns a queue that holds at most max events (DefaultQueueSize
// when max <= 0).
func NewQueue(max int) *Queue {
	if max <= 0 {
		max = DefaultQueueSize
	}
	return &Queue{max: max}
}

// Push adds ev. It returns false, and adds nothing, if the queue has ended;
// a push into a full queue ends it with ErrSlowConsumer, or ErrLagging
// when only the server's writer was behind (see Queue).
func (q *Queue) Push(ev Event) bool {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return false
	}
	size := ev.Size()
	if err := q.full(size); err != nil {
		dropped := len(q.events) + 1
		q.err = err
		q.events = nil
		q.bytes = 0
		fn, ch := q.wakeFn, q.notify
		q.mu.Unlock()
		wake(fn, ch)
		if q.OnDrop != nil {
			q.OnDrop(dropped)
		}
		return false
	}
	q.events = append(q.events, ev)
	q.bytes += size
	if q.unaccepted > 0 {
		// The writer waits for the client's connection to drain, and
		// drains the queue when it does: no wake-up per event.
		q.behindCount++
		q.behindBytes += size
		q.mu.Unlock()
		return true
	}
	fn, ch := q.wakeFn, q.notify
	q.mu.Unlock()
	wake(fn, ch)
	return true
}

// full returns the error that a push of an event of size bytes ends the
// queue with, or nil if it fits.
func (q *Queue) full(size int) error {
	n := len(q.events)
	switch {
	case !q.tracked:
		if n >= q.max || (q.MaxBytes > 0 && n > 0 && q.bytes+size > q.MaxBytes) {
			return ErrSlowConsumer
		}
	case q.unaccepted > 0:
		// The client stopped accepting: what arrived since, less what it
		// took meanwhile, is its own.
		over := q.behindCount >= q.max || (q.MaxBytes > 0 && q.behindBytes+size > q.MaxBytes)
		if !over && n < q.max*LagQueueFactor {
			return nil
		}
		if n < q.max*LagQueueFactor && q.accepting != nil && q.accepting() {
			// Its connection takes output again: the writer has not
			// seen it yet, and what waits is the writer's delay. The
			// client is judged anew from the writer's next report.
			q.unaccepted, q.behindCount, q.behindBytes = 0, 0, 0
			return nil
		}
		return ErrSlowConsumer
	case n >= q.max*LagQueueFactor:
		return ErrLagging
	}
	return nil
}

// SetUnaccepted tells the queue how many bytes its writer has written to
// the client's connection that the client has not accepted yet: n > 0
// while the connection's buffer is full, 0 once everything written was
// taken. From the first call on, the queue judges the client by it (see
// Queue): from the moment the client falls behind, the events pushed
// count against max and MaxBytes, less the bytes it accepts meanwhile (a
// smaller n than the last): only the growth of what the client leaves
// unread is its own, not output the writer was late with. While n > 0, a
// push does not wake the writer, which waits for the connection anyway;
// when n goes back to 0 and events are waiting, the writer is woken. It
// implements Unaccepting.
func (q *Queue) SetUnaccepted(n int) {
	q.mu.Lock()
	q.tracked = true
	if n > 0 {
		switch {
		case q.unaccepted == 0:
			q.behindCount, q.behindBytes = 0, 0
		case n < q.unaccepted && q.behindBytes > 0:
			// Progress: credit what the client took.
			left := max(q.behindBytes-(q.unaccepted-n), 0)
			q.behindCount = int(int64(q.behindCount) * int64(left) / int64(q.behindBytes))
			q.behindBytes = left
		}
		q.unaccepted = n
		q.mu.Unlock()
		return
	}
	was := q.unaccepted
	q.unaccepted, q.behindCount, q.behindBytes = 0, 0, 0
	due := was > 0 && (len(q.events) > 0 || q.err != nil)
	fn, ch := q.wakeFn, q.notify
	q.mu.Unlock()
	if due {
		wake(fn, ch)
	}
}

// SetAccepting registers fn, which reports whether the client's
// connection has taken output since the writer last found it full, or
// takes output now (its socket is writable). Before it ends a client that
// is behind as slow, the queue asks fn: if the client took output
// meanwhile, the events waiting are the writer's delay, and the client is
// judged anew from the writer's next report instead of being ended. fn is called with the queue's lock held, from
// a pushing goroutine; it must be quick and must not call the queue. It
// implements Unaccepting.
func (q *Queue) SetAccepting(fn func() bool) {
	q.mu.Lock()
	q.accepting = fn
	q.mu.Unlock()
}

// SetWake makes the queue call fn, instead of signalling Notify, whenever
// events are waiting or the queue has ended; if either is already the
// case, fn is called at once. fn runs on the pushing goroutine (a broker's
// fan-out) and must not block: the SSE handler uses it to schedule a write
// on its poller. It implements Waker.
func (q *Queue) SetWake(fn func()) {
	q.mu.Lock()
	q.wakeFn = fn
	due := len(q.events) > 0 || q.err != nil
	q.mu.Unlock()
	if due && fn != nil {
		fn()
	}
}

// Fail ends the queue with err unless it has already ended. Events still
// queued stay drainable; Drain returns err once they are gone.
func (q *Queue) Fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	fn, ch := q.wakeFn, q.notify
	q.mu.Unlock()
	wake(fn, ch)
}

// Err returns the error that ended the queue, or nil while it is open.
func (q *Queue) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// Notify returns a channel that receives a value when events are waiting or
// the queue has ended.
func (q *Queue) Notify() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.notify == nil {
		q.notify = make(chan struct{}, 1)
		if len(q.events) > 0 || q.err != nil {
			q.notify <- struct{}{}
		}
	}
	return q.notify
}

// Drain appends the waiting events to dst and returns it, and the error that
// ended the queue once no event is left.
func (q *Queue) Drain(dst []Event) ([]Event, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst, q.events...)
	q.bytes = 0
	clear(q.events) // drop references to payloads
	if cap(q.events) > queueRetainCap {
		q.events = nil // after a burst, give the memory back
	} else {
		q.events = q.events[:0]
	}
	if len(dst) > 0 && !errors.Is(q.err, ErrSlowConsumer) && !errors.Is(q.err, ErrLagging) {
		return dst, nil
	}
	return dst, q.err
}

// Len returns the number of waiting events.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
}

// wake calls fn, SetWake's function, or else signals ch, the Notify
// channel if one was asked for; both read under the queue's lock.
func wake(fn func(), ch chan struct{}) {
	if fn != nil {
		fn()
		return
	}
	if ch == nil {
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}
