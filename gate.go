package ssevents

import (
	"context"
	"fmt"
	"sync"

	"github.com/ssevents/ssevents/sse"
)

// ErrShuttingDown reports a publish refused because the app is shutting
// down. It wraps ErrUnavailable (HTTP 503): the publisher should retry on
// another instance, with the same idempotency key.
var ErrShuttingDown = fmt.Errorf("%w: the server is shutting down", sse.ErrUnavailable)

// publishGate admits publishes until it is closed, and lets Close wait for
// those in flight, so that no publish is acknowledged after the streams
// that should receive it have ended.
type publishGate struct {
	mu     sync.Mutex
	closed bool
	n      int           // publishes in flight
	idle   chan struct{} // closed when closed and n reaches 0
}

// enter admits one publish; it reports false once the gate is closed.
// Every true must be followed by leave.
func (g *publishGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a publish admitted by enter.
func (g *publishGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// close refuses new publishes and waits until those in flight have
// returned, or ctx is done.
func (g *publishGate) close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ssevents: publishes still in flight at shutdown: %w", ctx.Err())
	}
}
