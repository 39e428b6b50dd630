package client

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// watchdog cuts a connection on which no byte arrived for timeout while the
// client was waiting for one. Time the application spends handling events
// does not count: only a wait inside Read (or for the response headers)
// does, so a slow consumer is never mistaken for a dead server.
//
// It is also the io.Reader of the stream's body. It uses a timer, not a
// goroutine.
type watchdog struct {
	r       io.Reader
	timeout time.Duration
	cancel  context.CancelCauseFunc
	base    time.Time // since holds offsets from it, on the monotonic clock
	since   atomic.Int64
	timer   *time.Timer
	stopped atomic.Bool
}

// newWatchdog returns a watchdog that calls cancel(ErrDeadConnection) after
// timeout of waiting; a timeout <= 0 disables it.
func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{timeout: timeout, cancel: cancel, base: time.Now()}
	if timeout > 0 {
		w.timer = time.AfterFunc(timeout, w.check)
	}
	return w
}

// waiting marks the start of a wait for bytes.
func (w *watchdog) waiting() { w.since.Store(int64(time.Since(w.base)) + 1) }

// done marks the end of a wait.
func (w *watchdog) done() { w.since.Store(0) }

// Read implements io.Reader, timing the wait.
func (w *watchdog) Read(p []byte) (int, error) {
	w.waiting()
	n, err := w.r.Read(p)
	w.done()
	return n, err
}

// check runs on the timer: it cuts the connection when the current wait has
// lasted timeout, and otherwise sets the timer for when it would.
func (w *watchdog) check() {
	if w.stopped.Load() {
		return
	}
	next := w.timeout
	if s := w.since.Load(); s != 0 {
		waited := time.Since(w.base) - time.Duration(s-1)
		if waited >= w.timeout {
			w.cancel(ErrDeadConnection)
			return
		}
		next = w.timeout - waited
	}
	w.timer.Reset(next)
}

// stop disables the watchdog.
func (w *watchdog) stop() {
	w.stopped.Store(true)
	if w.timer != nil {
		w.timer.Stop()
	}
}
