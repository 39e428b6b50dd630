package ssevents

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/poller"
	"github.com/ssevents/ssevents/sse"
)

// The poller path: a stream that the handler's poller serves holds no
// goroutine. Its subscription, its heartbeat entry, its expiry timer and
// the handler's shutdown each wake it on its poller loop (Conn.Wake), and
// the loop calls ready, which writes what is due without blocking: output
// the socket does not take waits in the poller, and while it waits the
// stream leaves its events in the subscription's bounded queue and tells
// it the client is behind (sse.Unaccepting): a stalled client then costs
// the loop nothing per event (its queue does not wake it) and overflows
// its queue with its own unaccepted bytes, while a client that keeps up is
// never judged by the loop's own delay.

// poller returns the handler's poller, started by the first stream that
// needs it; nil with Config.DisablePoller, where the system has none, or
// once the handler is closed.
func (h *Handler) poller() *poller.Poller {
	h.pollOnce.Do(func() {
		if h.cfg.DisablePoller || goroutinePathOnly || h.ctx.Err() != nil {
			return
		}
		p, err := poller.New(poller.Options{WriteTimeout: h.cfg.WriteTimeout})
		if err != nil {
			if !errors.Is(err, poller.ErrUnsupported) {
				h.cfg.Logger.Warn("stream poller unavailable; serving a goroutine per stream", "error", err)
			}
			return
		}
		h.poll.Store(p)
	})
	return h.poll.Load()
}

// goroutinePathOnly, set by this package's tests when SSE_POLLER=false,
// runs every test's streams on the goroutine path.
var goroutinePathOnly bool

// Reasons to wake a polled stream other than its subscription, in
// pollState.due. The handler's shutdown wakes every polled stream
// (Poller.WakeAll), which then finds h.ctx done.
const (
	dueBeat   = 1 << iota // the heartbeat scheduler found it idle
	dueExpire             // its credentials expired (ExpireStreamAt)
)

// pollState is a stream's state on the poller path. Apart from due, it is
// used only on the stream's loop goroutine.
type pollState struct {
	conn   *poller.Conn
	due    atomic.Uint32 // reasons to wake, set from other goroutines
	expiry *time.Timer
	behind bool // the subscription was told the client has not accepted everything
	ending bool // ends once its pending output is written
	endErr error
	ended  bool
}

// startPolled hands the stream to p. It reports false, with the stream
// untouched, when it must be served another way: its subscription cannot
// call back, or its connection has no file descriptor of its own (TLS).
func (s *stream) startPolled(p *poller.Poller) bool {
	waker, ok := s.sub.(sse.Waker)
	if !ok {
		return false
	}
	pc, err := p.Add(s.conn, poller.Callbacks{Ready: s.ready, Gone: s.gone})
	if err != nil {
		return false
	}
	s.poll.conn = pc
	s.beat = s.h.heartbeats().AddFunc(s.last, func() { s.wake(dueBeat) })
	if !s.expires.IsZero() {
		s.poll.expiry = time.AfterFunc(time.Until(s.expires), func() { s.wake(dueExpire) })
	}
	// Once Start returns, callbacks may run on the loop: the stream is
	// set up for them first. Start closes the connection: the poller owns
	// the socket; an idle stream holds no buffer.
	conn, out, setDeadline := s.conn, s.out, s.setDeadline
	s.conn, s.out, s.setDeadline, s.buf = nil, nil, nil, nil
	if err := pc.Start(); err != nil {
		s.conn, s.out, s.setDeadline = conn, out, setDeadline
		s.beat.Remove()
		s.beat = nil
		if s.poll.expiry != nil {
			s.poll.expiry.Stop()
		}
		s.poll = pollState{}
		return false
	}
	if s.paced != nil {
		s.paced.SetAccepting(pc.Writable) // the net.Conn is closed now
	}
	waker.SetWake(pc.Wake)
	pc.Wake() // anything published while it caught up, or a shutdown that began meanwhile
	return true
}

func (s *stream) wake(reason uint32) {
	s.poll.due.Or(reason)
	s.poll.conn.Wake()
}

// pollScratch is a loop's working memory for one ready call, pooled so
// that an idle stream keeps none.
type pollScratch struct {
	batch []sse.Event
	bufs  [][]byte
}

var pollScratches = sync.Pool{New: func() any { return new(pollScratch) }}

// ready runs on the stream's loop when it is woken or its pending output
// has been written.
func (s *stream) ready() {
	ps := &s.poll
	if ps.ended {
		return
	}
	if ps.ending {
		if ps.conn.Pending() == 0 {
			s.finish(ps.endErr)
		}
		return
	}
	due := ps.due.Swap(0)
	// Seen before the queue is drained: every publish acknowledged before
	// the handler's Close is then in this drain. (Seen after, it could
	// miss one pushed meanwhile; Close's WakeAll brings another call.)
	closing := s.h.ctx.Err() != nil
	if ps.behind {
		if pending := ps.conn.Pending(); pending > 0 && !closing && due&dueExpire == 0 {
			// The client has not taken all that was written: its events
			// wait in the queue until the socket drains (Ready follows,
			// and on progress meanwhile). Only an overflow ends it now.
			if err := s.paced.Err(); errors.Is(err, sse.ErrSlowConsumer) {
				s.finish(err)
				return
			}
			s.paced.SetUnaccepted(pending)
			return
		}
		if ps.conn.Pending() == 0 {
			ps.behind = false
			s.paced.SetUnaccepted(0)
		}
	}
	err := s.sendQueued()
	switch {
	case err != nil && !isQueueEnd(err):
		s.finish(err) // the connection broke
	case closing:
		// Shutting down: publishing has stopped; what is queued is
		// written before the stream ends.
		if errors.Is(err, sse.ErrBrokerClosed) {
			err = nil
		}
		s.finishWhenWritten(err)
	case errors.Is(err, sse.ErrSlowConsumer):
		s.finish(err) // what it missed is lost here anyway: it resumes from history
	case err != nil:
		s.finishWhenWritten(err)
	case due&dueExpire != 0:
		s.appendTokenExpired()
		if err := s.send(); err != nil {
			s.finish(err)
			return
		}
		s.finishWhenWritten(nil)
	case due&dueBeat != 0:
		// Not while output still waits for the socket: it is not idle.
		if s.poll.conn.Pending() > 0 || !s.appendHeartbeat(time.Now()) {
			return
		}
		if err := s.send(); err != nil {
			s.finish(err)
		}
	}
}

// queueEnd marks an error that ended the subscription, not the
// connection: what it held is still written.
type queueEnd struct{ err error }

func (e queueEnd) Error() string { return e.err.Error() }
func (e queueEnd) Unwrap() error { return e.err }

func isQueueEnd(err error) bool {
	var q queueEnd
	return errors.As(err, &q)
}

// sendQueued writes the events waiting in the subscription, each as the
// broker encoded it, split around the stream's topic line on a stream of
// several topics (appendEventBufs), all in one writev. While earlier output still waits for the
// socket, they join it, up to MaxQueueBytes waiting in all: past that the
// client is too slow and the stream ends (ErrSlowConsumer), as when its
// queue overflows. It returns the error that ended the subscription as a
// queueEnd, or the connection's error.
func (s *stream) sendQueued() error {
	sc := pollScratches.Get().(*pollScratch)
	defer func() {
		clear(sc.batch) // drop references to payloads
		clear(sc.bufs)
		sc.batch, sc.bufs = sc.batch[:0], sc.bufs[:0]
		if cap(sc.batch) > 1024 {
			sc.batch, sc.bufs = nil, nil
		}
		pollScratches.Put(sc)
	}()
	var qerr error
	sc.batch, qerr = s.sub.Drain(sc.batch)
	if waiting := s.poll.conn.Pending(); waiting > 0 && len(sc.batch) > 0 {
		for _, ev := range sc.batch {
			waiting += ev.Size()
		}
		if waiting > s.h.cfg.MaxQueueBytes {
			s.h.metrics.dropped.Add(int64(len(sc.batch)))
			return queueEnd{sse.ErrSlowConsumer}
		}
	}
	if len(sc.batch) > 0 {
		for _, ev := range sc.batch {
			sc.bufs = s.appendEventBufs(sc.bufs, ev)
		}
		s.h.metrics.countDelivered(len(sc.batch))
		if err := s.poll.conn.Write(sc.bufs...); err != nil {
			s.h.metrics.countDelivered(-len(sc.batch))
			return err
		}
		s.wrote()
		s.noteBehind()
		s.h.metrics.observeLatency(sc.batch, s.last)
	}
	if qerr != nil {
		return queueEnd{qerr}
	}
	return nil
}

// send writes s.buf.
func (s *stream) send() error {
	err := s.poll.conn.Write(s.buf)
	s.buf = nil // an idle stream holds no buffer
	s.wrote()
	s.noteBehind()
	return err
}

// noteBehind tells the subscription, once, that the client has not taken
// all that was written: from now on, what it does not read counts.
func (s *stream) noteBehind() {
	if pending := s.poll.conn.Pending(); pending > 0 && !s.poll.behind && s.paced != nil {
		s.poll.behind = true
		s.paced.SetUnaccepted(pending)
	}
}

func (s *stream) wrote() {
	s.last = time.Now()
	s.beat.Wrote(s.last)
}

// gone is called by the poller when the client left or output waited
// longer than WriteTimeout.
func (s *stream) gone(err error) { s.finish(err) }

// finishWhenWritten ends the stream once its pending output is written.
func (s *stream) finishWhenWritten(err error) {
	if s.poll.conn.Pending() == 0 {
		s.finish(err)
		return
	}
	s.poll.ending, s.poll.endErr = true, err
}

// finish ends a polled stream, once, on its loop.
func (s *stream) finish(err error) {
	ps := &s.poll
	if ps.ended {
		return
	}
	ps.ended = true
	s.beat.Remove()
	if ps.expiry != nil {
		ps.expiry.Stop()
	}
	_ = ps.conn.Close()
	var q queueEnd
	if errors.As(err, &q) {
		err = q.err
	}
	s.end(err)
}
