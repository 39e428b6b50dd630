package memory

import (
	"context"
	"errors"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// PresenceOutboxCap is how many joins and leaves the presence outbox
// keeps for Next until Ack: about 20 MB of events, minutes of churn of a
// large hub whose application stopped taking them. Past it the oldest is
// dropped and reported to sse.PresenceOptions.OnError.
const PresenceOutboxCap = 100_000

// errOutboxFull is reported to OnError when the outbox drops events.
var errOutboxFull = errors.New("ssevents: presence outbox full")

// outItem is an event of the outbox.
type outItem struct {
	ev     sse.PresenceEvent
	handed time.Time // when Next last returned it; zero: never
	acked  bool
}

// outbox is the queue of events for Next and Ack, oldest first; s.mu
// guards it. Acked events leave the front at once and the rest of the
// queue when they are more than half of it. Next hands out an event
// again once TTL has passed without its Ack: TTL is how long a store's
// work counts after it stopped (see sse.PresenceOptions.TTL), and the
// default, 30 s, is long enough for a webhook's retries.
type outbox struct {
	items []*outItem
	byID  map[string]*outItem // the unacked items
	ready chan struct{}       // when not nil: closed by the next push
}

// push adds ev and returns how many events it dropped to stay within
// PresenceOutboxCap.
func (o *outbox) push(ev sse.PresenceEvent) (dropped int) {
	if o.byID == nil {
		o.byID = make(map[string]*outItem)
	}
	it := &outItem{ev: ev}
	o.items = append(o.items, it)
	o.byID[ev.ID] = it
	for len(o.byID) > PresenceOutboxCap {
		o.trim()
		delete(o.byID, o.items[0].ev.ID)
		o.items[0] = nil
		o.items = o.items[1:]
		dropped++
	}
	if o.ready != nil {
		close(o.ready)
		o.ready = nil
	}
	return dropped
}

// take returns up to max events due at now (never handed out, or handed
// out a TTL ago without an Ack) and marks them handed out. With none, it
// returns when the next one will be due (zero: on a push).
func (o *outbox) take(now time.Time, max int, ttl time.Duration) ([]sse.PresenceEvent, time.Time) {
	var evs []sse.PresenceEvent
	var next time.Time
	for _, it := range o.items {
		if it.acked {
			continue
		}
		if due := it.handed.Add(ttl); !it.handed.IsZero() && due.After(now) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		it.handed = now
		evs = append(evs, it.ev)
		if len(evs) == max {
			break
		}
	}
	return evs, next
}

// ack confirms the events of evs that are still in the outbox.
func (o *outbox) ack(evs []sse.PresenceEvent) {
	for _, ev := range evs {
		if it := o.byID[ev.ID]; it != nil {
			it.acked = true
			delete(o.byID, ev.ID)
		}
	}
	o.trim()
	if len(o.items) > 64 && len(o.byID) < len(o.items)/2 {
		kept := make([]*outItem, 0, 2*len(o.byID))
		for _, it := range o.items {
			if !it.acked {
				kept = append(kept, it)
			}
		}
		o.items = kept
	}
}

// trim drops acked events from the front.
func (o *outbox) trim() {
	for len(o.items) > 0 && o.items[0].acked {
		o.items[0] = nil
		o.items = o.items[1:]
	}
}

// Next implements sse.PresenceStore. A max below 1 is taken as 1. It
// returns an error wrapping sse.ErrBrokerClosed after Close.
func (s *presenceStore) Next(ctx context.Context, max int) ([]sse.PresenceEvent, error) {
	if max < 1 {
		max = 1
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errClosed()
		}
		var evs []sse.PresenceEvent
		var next time.Time
		if s.opts.Outbox {
			evs, next = s.out.take(time.Now(), max, s.opts.TTL)
		}
		if len(evs) > 0 {
			s.mu.Unlock()
			return evs, nil
		}
		if s.out.ready == nil {
			s.out.ready = make(chan struct{})
		}
		ready := s.out.ready
		s.mu.Unlock()

		if err := s.wait(ctx, ready, next); err != nil {
			return nil, err
		}
	}
}

// wait waits until ready is closed or next (unless zero) has come; it
// returns ctx's error, or an error wrapping sse.ErrBrokerClosed on
// Close, when either comes first.
func (s *presenceStore) wait(ctx context.Context, ready <-chan struct{}, next time.Time) error {
	var due <-chan time.Time
	if !next.IsZero() {
		timer := time.NewTimer(time.Until(next))
		defer timer.Stop()
		due = timer.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.shut:
		return errClosed()
	case <-ready:
	case <-due:
	}
	return nil
}

// Ack implements sse.PresenceStore: acked events are never handed out
// again; events not in the outbox (acked already, or dropped) are
// ignored. It returns an error wrapping sse.ErrBrokerClosed after Close.
func (s *presenceStore) Ack(ctx context.Context, events []sse.PresenceEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed()
	}
	s.out.ack(events)
	return nil
}
