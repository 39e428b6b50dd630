package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// health is the state of a subscriber connection as its goroutine
// reports it: up, or down since when and why, and whether it has been
// failing since its last successful round of subscribing and syncing.
// Its fields are guarded by b.mu.
//
// Subscribe waits on it rather than on a clock: while the connection
// works, its goroutine is subscribing and syncing topics one bounded round
// trip after the other, so a Redis that is busy (a reconnect storm: every
// stream of a restarted hub resuming at once) is waited for, however many
// topics are ahead; only a connection that keeps failing fails the wait.
type health struct {
	up        bool
	everUp    bool
	err       error     // why the connection is down
	downSince time.Time // when it went down
	// failingSince is when the connection failed first since it last
	// subscribed and synced what was wanted (zero: not failing), and
	// failure the last reason: a connection that comes back up and fails
	// again (a script error, a replica that refuses) is failing still.
	failingSince time.Time
	failure      error
	upSince      time.Time // when it last came up
	changed      chan struct{}
}

// setUp marks the connection up. b.mu is held.
func (h *health) setUp() {
	h.up, h.everUp, h.err, h.upSince = true, true, nil, time.Now()
	h.notify()
}

// setDown marks the connection down because of err and reports whether it
// was up. b.mu is held.
func (h *health) setDown(err error) (wasUp bool) {
	wasUp = h.up
	now := time.Now()
	if wasUp || h.downSince.IsZero() {
		h.downSince = now
	}
	if h.failingSince.IsZero() {
		h.failingSince = now
	}
	h.up, h.err, h.failure = false, err, err
	h.notify()
	return wasUp
}

// setSynced records that the connection subscribed and synced what was
// wanted: it is not failing. b.mu is held.
func (h *health) setSynced() {
	if !h.failingSince.IsZero() {
		h.failingSince, h.failure = time.Time{}, nil
		h.notify()
	}
}

// notify wakes whoever waits for a change. b.mu is held.
func (h *health) notify() {
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

// watch returns a channel closed at the next change of the state. b.mu
// is held.
func (h *health) watch() <-chan struct{} {
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// failingFor returns how long the connection has been failing, 0 while it
// is not. A connection that is up again, subscribing and syncing after
// an outage, has been failing only since it came up: it gets the timeout
// to finish that round, rather than being judged by how long Redis was
// gone. b.mu is held.
func (h *health) failingFor(now time.Time) time.Duration {
	if h.failingSince.IsZero() {
		return 0
	}
	since := h.failingSince
	if h.up && h.upSince.After(since) {
		since = h.upSince
	}
	return max(now.Sub(since), time.Nanosecond)
}

// readyWait is one thing a Subscribe waits for: a channel closed once a
// topic (or a classic channel) is subscribed and synced, and the
// connection that does it.
type readyWait struct {
	ready <-chan struct{}
	conn  *health
}

// waitReady waits until every wait is ready. It fails with an error
// wrapping sse.ErrUnavailable only when a connection it waits for has been
// failing for the timeout (a Redis that is gone, or that does not answer
// a single round trip within the timeout: the connection's goroutine then
// drops the connection and starts again), or failed its first attempt,
// never merely because the wait is long.
func (b *Broker) waitReady(ctx context.Context, waits []readyWait) error {
	for _, w := range waits {
		if err := b.waitOne(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

func (b *Broker) waitOne(ctx context.Context, w readyWait) error {
	for {
		select {
		case <-w.ready:
			return nil
		default:
		}
		b.mu.Lock()
		changed := w.conn.watch()
		failing, why, everUp := w.conn.failingFor(time.Now()), w.conn.failure, w.conn.everUp
		b.mu.Unlock()
		var expire <-chan time.Time
		var timer *time.Timer
		if failing > 0 {
			// Never up: its first attempt, which the timeout bounds,
			// found no Redis.
			if failing >= b.cfg.Timeout || !everUp {
				return b.unavailable(ctx, "subscribe", fmt.Errorf("not subscribed: the subscriber connection fails: %w", why))
			}
			timer = time.NewTimer(b.cfg.Timeout - failing)
			expire = timer.C
		}
		var err error
		select {
		case <-w.ready:
			return nil
		case <-changed:
		case <-expire:
		case <-ctx.Done():
			err = ctx.Err()
		case <-b.ctx.Done():
			err = sse.ErrBrokerClosed
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return err
		}
	}
}
