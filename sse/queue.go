package sse

import (
	"errors"
	"sync"
)

// Queue is the bounded, non-blocking event queue behind one subscription.
// Brokers push into it from their fan-out loop; the SSE handler drains it.
// Push never blocks: when the queue is full (in events, or in bytes when
// MaxBytes is set), the queue ends with ErrSlowConsumer and drops what it
// held, so one slow reader costs its publishers nothing. Broker
// implementations embed it in their Subscription. Queue is safe for
// concurrent use.
type Queue struct {
	mu     sync.Mutex
	events []Event // grows on demand up to max, so an idle queue costs no buffer
	max    int
	bytes  int // Size of the waiting events
	err    error
	notify chan struct{} // capacity 1: one pending wake-up is enough, pushes coalesce; made by the first Notify
	wakeFn func()        // SetWake's function, called instead of signalling notify
	// OnDrop, when set before the first Push, is called with the number of
	// events dropped when the queue overflows.
	OnDrop func(n int)
	// MaxBytes, when set before the first Push, bounds the bytes of the
	// waiting events (Event.Size) as well as their number. A single event
	// larger than MaxBytes is still accepted into an empty queue.
	MaxBytes int
}

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
// a push into a full queue ends it with ErrSlowConsumer.
func (q *Queue) Push(ev Event) bool {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return false
	}
	size := ev.Size()
	if len(q.events) >= q.max || (q.MaxBytes > 0 && len(q.events) > 0 && q.bytes+size > q.MaxBytes) {
		dropped := len(q.events) + 1
		q.err = ErrSlowConsumer
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
	fn, ch := q.wakeFn, q.notify
	q.mu.Unlock()
	wake(fn, ch)
	return true
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
	if len(dst) > 0 && !errors.Is(q.err, ErrSlowConsumer) {
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
