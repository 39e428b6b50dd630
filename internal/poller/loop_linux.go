//go:build linux

package poller

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// loop is one core's share of the connections, served by two goroutines:
// the worker runs every callback of its connections, one at a time, and
// is woken through the Go scheduler (a channel), so a wake costs no system
// call; the waiter blocks in epoll_wait and hands the kernel's readiness
// events (a socket writable again, a peer gone) to the worker.
type loop struct {
	p      *Poller
	epfd   int
	efd    int           // eventfd: ends the waiter's epoll_wait at Close
	signal chan struct{} // capacity 1: the worker has work
	quit   atomic.Bool
	done   chan struct{} // closed when the worker and the waiter have returned

	mu     sync.Mutex
	ready  []*Conn   // woken
	io     []ioEvent // readiness events from the waiter
	conns  map[int32]*Conn
	nextID int32

	blocked map[*Conn]struct{} // worker only: connections with pending output
}

// ioEvent is a readiness event of a connection.
type ioEvent struct {
	id     int32
	events uint32
}

// eventfdID marks the eventfd's epoll events; connection ids start at 1.
const eventfdID = -1

func newLoop(p *Poller) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd), Pad: eventfdID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, err
	}
	return &loop{p: p, epfd: epfd, efd: efd, signal: make(chan struct{}, 1), done: make(chan struct{}),
		conns: map[int32]*Conn{}, blocked: map[*Conn]struct{}{}}, nil
}

// kick wakes the worker.
func (l *loop) kick() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// sweepEvery is how often a loop with blocked output checks write timeouts.
const sweepEvery = 100 * time.Millisecond

// run starts the loop's goroutines.
func (l *loop) run() {
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		l.wait()
	}()
	go func() {
		defer func() {
			_, _ = unix.Write(l.efd, one) // end the waiter's epoll_wait
			<-waiterDone
			close(l.done)
		}()
		l.work()
	}()
}

// wait hands readiness events to the worker until the loop quits.
func (l *loop) wait() {
	events := make([]unix.EpollEvent, 256)
	for !l.quit.Load() {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			panic("poller: epoll_wait: " + err.Error())
		}
		if n <= 0 {
			continue
		}
		l.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Pad == eventfdID {
				continue
			}
			l.io = append(l.io, ioEvent{id: ev.Pad, events: ev.Events})
			if ev.Events&unix.EPOLLOUT != 0 {
				if c := l.conns[ev.Pad]; c != nil {
					c.drains.Add(1) // now, not when the worker gets to it
				}
			}
		}
		l.mu.Unlock()
		l.kick()
	}
}

// work runs the callbacks: for readiness events and wakes, and for write
// timeouts.
func (l *loop) work() {
	var ready []*Conn
	var events []ioEvent
	sweep := time.NewTimer(time.Hour)
	sweep.Stop()
	sweeping, due := false, false
	for {
		select {
		case <-l.signal:
		case <-sweep.C:
			sweeping, due = false, true
		}
		if l.quit.Load() {
			return
		}
		l.mu.Lock()
		ready, l.ready = l.ready, ready[:0]
		events, l.io = l.io, events[:0]
		l.mu.Unlock()
		for _, ev := range events {
			l.mu.Lock()
			c := l.conns[ev.id]
			l.mu.Unlock()
			if c == nil || c.closed {
				continue // closed after the event was queued
			}
			if ev.events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				// A client sends nothing after its request: data, a
				// half-close or an error all end the stream.
				c.setGone(io.EOF)
				continue
			}
			if ev.events&unix.EPOLLOUT != 0 && len(c.pending) > 0 {
				c.flush()
			}
		}
		for i, c := range ready {
			c.woken.Store(false)
			if !c.closed && !c.gone {
				c.cb.Ready()
			}
			ready[i] = nil
		}
		if due {
			// After the readiness events: output that a socket took while
			// this loop was busy is not held against its client.
			due = false
			l.sweep()
		}
		if len(l.blocked) > 0 && !sweeping {
			sweeping = true
			sweep.Reset(sweepEvery)
		}
	}
}

// sweep ends the connections whose output has waited past the write
// timeout without the client taking any of it. It also flushes those whose
// socket takes output again although no EPOLLOUT edge was counted for it:
// under load, with TCP_NOTSENT_LOWAT set, a socket was seen drained (nothing
// unsent or unacknowledged, hundreds of KB pending here) two seconds after
// its last edge, and the timeout ended a reader that kept up. Only
// connections blocked for a whole sweep interval are polled.
func (l *loop) sweep() {
	now := time.Now()
	for c := range l.blocked {
		if c.drains.Load() != c.full.Load() {
			// The client took output since the socket was found full;
			// this worker has not written to it since. Not stuck.
			continue
		}
		blocked := now.Sub(c.blockedSince)
		switch {
		case blocked >= sweepEvery && SocketWritable(c.fd):
			c.flush() // a missed edge
		case blocked >= l.p.opts.WriteTimeout:
			delete(l.blocked, c)
			c.setGone(os.ErrDeadlineExceeded)
		}
	}
}
