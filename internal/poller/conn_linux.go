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
	// drains counts the socket's EPOLLOUT edges, seen by the loop's
	// waiter as they happen; full is its value when a write last found the
	// socket full. They differ once the client has taken output since,
	// however late the worker gets to it.
	drains, full atomic.Uint32

	// Owned by the loop goroutine.
	pending      [][]byte // output the socket has not taken yet: the buffers given to Write, the first one cut at what was written
	pendingBytes int      // their length
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
// take now is kept and written when it drains (Ready follows). The
// buffers are kept, not copied, until they are written: the caller must
// not change them afterwards (a stream's events are shared read-only
// encodings anyway). An error means the connection is broken.
func (c *Conn) Write(bufs ...[]byte) error {
	if c.closed || c.gone {
		return net.ErrClosed
	}
	if c.pendingBytes > 0 {
		c.keep(bufs...)
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
			for len(bufs) > 0 && n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
			}
			c.keep(bufs[0][n:])
			c.keep(bufs[1:]...)
			c.full.Store(c.drains.Load())
			c.blockedSince = time.Now()
			c.l.blocked[c] = struct{}{}
			return nil
		}
		bufs = bufs[len(chunk):]
	}
	return nil
}

// keep adds bufs, not yet written, to the pending output.
func (c *Conn) keep(bufs ...[]byte) {
	for _, b := range bufs {
		if len(b) > 0 {
			c.pending = append(c.pending, b)
			c.pendingBytes += len(b)
		}
	}
}

// Writable reports whether the client has taken output since a write
// last found the socket full (the loop's waiter saw the socket become
// writable, even if the loop's worker has not written to it since), or
// whether the socket takes output now. Unlike the other methods it is
// safe from any goroutine: it reads two counters and polls the descriptor
// (a closed connection reports false).
func (c *Conn) Writable() bool {
	return c.drains.Load() != c.full.Load() || SocketWritable(c.fd)
}

// SocketWritable reports whether the socket fd takes output now (POLLOUT
// without an error or hang-up; with TCP_NOTSENT_LOWAT set, that means less
// than it waits unsent). It does not block.
func SocketWritable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) == 0 && fds[0].Revents&unix.POLLOUT != 0
}

// Pending returns the bytes written but not yet taken by the socket.
func (c *Conn) Pending() int { return c.pendingBytes }

// Close closes the connection; no callback follows.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.pending, c.pendingBytes = nil, 0
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

// flush writes pending output. Ready follows when it wrote any: the
// owner sees the client's progress, and once all is written, that it can
// write more.
func (c *Conn) flush() {
	progress := false
	defer func() {
		if progress && c.pendingBytes > 0 && !c.closed && !c.gone {
			c.cb.Ready()
		}
	}()
	for c.pendingBytes > 0 {
		n, err := writev(c.fd, c.pending[:min(len(c.pending), iovMax)])
		if errors.Is(err, unix.EAGAIN) {
			c.full.Store(c.drains.Load())
			return
		}
		if err != nil {
			c.setGone(err)
			return
		}
		c.pendingBytes -= n
		c.blockedSince = time.Now() // progress
		progress = progress || n > 0
		k := 0
		for k < len(c.pending) && n >= len(c.pending[k]) {
			n -= len(c.pending[k])
			c.pending[k] = nil // let the buffer go
			k++
		}
		c.pending = c.pending[k:]
		if n > 0 {
			c.pending[0] = c.pending[0][n:]
		}
	}
	c.pending = nil // an idle connection holds no buffer
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
