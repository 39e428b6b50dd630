//go:build linux

package poller

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Start registers c with its loop and closes the net.Conn it was made
// from (the duplicate keeps the socket open, and the runtime's resources
// for it are freed). Everything the owner sets up before Start is visible
// to its callbacks. On error, c is closed and the net.Conn is left open,
// for the owner to serve it another way.
func (c *Conn) Start() error {
	p, l := c.l.p, c.l
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = unix.Close(c.fd)
		return ErrClosed
	}
	l.mu.Lock()
	l.nextID++
	c.id = l.nextID
	l.conns[c.id] = c
	c.started = true
	woken := c.woken.Load() // a Wake before Start: queue it now
	if woken {
		l.ready = append(l.ready, c)
	}
	l.mu.Unlock()
	p.mu.Unlock()
	if woken {
		l.kick()
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd), Pad: c.id}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.conns, c.id)
		l.mu.Unlock()
		_ = unix.Close(c.fd)
		return err
	}
	nc := c.nc
	c.nc = nil
	_ = nc.Close()
	return nil
}

// Conn is a connection served by a poller loop. Wake is safe from any
// goroutine; Write, Pending and Close only from its callbacks once Start
// has returned.
type Conn struct {
	l  *loop
	fd int
	id int32
	cb Callbacks
	nc net.Conn // until Start
	// started is set by Start, under the loop's lock: a Wake before it
	// is left for Start to queue, so no callback runs before Start.
	started bool
	woken   atomic.Bool

	// Owned by the loop goroutine.
	pending      []byte // output the socket has not taken yet
	blockedSince time.Time
	gone         bool
	closed       bool
}

// Wake asks for a call of Ready on the connection's loop. Wakes coalesce:
// one not yet served is enough. It never blocks. A Wake before Start takes
// effect at Start.
func (c *Conn) Wake() {
	if !c.woken.CompareAndSwap(false, true) {
		return
	}
	l := c.l
	l.mu.Lock()
	if !c.started {
		l.mu.Unlock()
		return // Start queues it
	}
	l.ready = append(l.ready, c)
	first := len(l.ready) == 1
	l.mu.Unlock()
	if first {
		l.kick()
	}
}

// iovMax is the most buffers one writev takes (Linux's IOV_MAX).
const iovMax = 1024

// Write writes bufs in order without blocking: what the socket does not
// take now is copied and written when it drains (Ready follows). The
// buffers are not retained. An error means the connection is broken.
func (c *Conn) Write(bufs ...[]byte) error {
	if c.closed || c.gone {
		return net.ErrClosed
	}
	if len(c.pending) > 0 {
		for _, b := range bufs {
			c.pending = append(c.pending, b...)
		}
		return nil
	}
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), iovMax)]
		total := 0
		for _, b := range chunk {
			total += len(b)
		}
		n, err := writev(c.fd, chunk)
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			return err
		}
		if n < total {
			// The socket is full: keep the rest until it drains.
			for _, b := range chunk {
				if n >= len(b) {
					n -= len(b)
					continue
				}
				c.pending = append(c.pending, b[n:]...)
				n = 0
			}
			for _, b := range bufs[len(chunk):] {
				c.pending = append(c.pending, b...)
			}
			c.blockedSince = time.Now()
			c.l.blocked[c] = struct{}{}
			return nil
		}
		bufs = bufs[len(chunk):]
	}
	return nil
}

// Pending returns the bytes written but not yet taken by the socket.
func (c *Conn) Pending() int { return len(c.pending) }

// Close closes the connection; no callback follows.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.pending = nil
	delete(c.l.blocked, c)
	c.l.mu.Lock()
	delete(c.l.conns, c.id)
	c.l.mu.Unlock()
	return unix.Close(c.fd) // also leaves the epoll set: this was the only descriptor
}

func (c *Conn) setGone(err error) {
	if c.gone || c.closed {
		return
	}
	c.gone = true
	c.cb.Gone(err)
}

// flush writes pending output; once it is all written, Ready is called.
func (c *Conn) flush() {
	for len(c.pending) > 0 {
		n, err := unix.Write(c.fd, c.pending)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			c.setGone(err)
			return
		}
		if n < len(c.pending) {
			c.pending = c.pending[:copy(c.pending, c.pending[n:])]
			c.blockedSince = time.Now() // progress
			continue
		}
		c.pending = nil // an idle connection holds no buffer
	}
	delete(c.l.blocked, c)
	if !c.closed && !c.gone {
		c.cb.Ready()
	}
}

func writev(fd int, bufs [][]byte) (int, error) {
	for {
		var n int
		var err error
		if len(bufs) == 1 {
			n, err = unix.Write(fd, bufs[0])
		} else {
			n, err = unix.Writev(fd, bufs)
		}
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}
