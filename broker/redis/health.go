package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// health is the state of a subscriber connection as its goroutine
// reports it: up, or down since when and why. Its fields are guarded by
// b.mu.
//
// Subscribe waits on it rather than on a clock: while the connection is
// up, its goroutine is subscribing and syncing topics one bounded round
// trip after the other, so a Redis that is busy (a reconnect storm: every
// stream of a restarted hub resuming at once) is waited for, however many
// topics are ahead; only a connection that stays down fails the wait.
type health struct {
	up        bool
	everUp    bool
	err       error     // why the connection is down
	downSince time.Time // when it went down
	changed   chan struct{}
}

// setUp marks the connection up. b.mu is held.
func (h *health) setUp() {
	h.up, h.everUp, h.err = true, true, nil
	h.notify()
}

// setDown marks the connection down because of err and reports whether it
// was up. b.mu is held.
func (h *health) setDown(err error) (wasUp bool) {
	wasUp = h.up
	if wasUp || h.downSince.IsZero() {
		h.downSince = time.Now()
	}
	h.up, h.err = false, err
	h.notify()
	return wasUp
}

// notify wakes whoever waits for a change. b.mu is held.
func (h *health) notify() {
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

// watch returns a channel closed at the next change of up or err. b.mu
// is held.
func (h *health) watch() <-chan struct{} {
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// downFor returns how long the connection has been down after a failure,
// 0 while it is up or connecting for the first time. b.mu is held.
func (h *health) downFor(now time.Time) time.Duration {
	if h.up || h.err == nil {
		return 0
	}
	return max(now.Sub(h.downSince), time.Nanosecond)
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
// down for the timeout (a Redis that is really gone, or one that does not
// answer a single round trip within the timeout: its goroutine then drops
// the connection), never merely because the wait is long.
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
		down, why := w.conn.downFor(time.Now()), w.conn.err
		b.mu.Unlock()
		var expire <-chan time.Time
		var timer *time.Timer
		if down > 0 {
			if down >= b.cfg.Timeout {
				return b.unavailable(ctx, "subscribe", fmt.Errorf("not subscribed: the subscriber connection is down (%v)", why))
			}
			timer = time.NewTimer(b.cfg.Timeout - down)
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
