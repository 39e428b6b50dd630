//go:build linux

package poller

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Poller owns connections taken over from net/http and serves them from
// its loops. It is safe for concurrent use.
type Poller struct {
	opts   Options
	loops  []*loop
	next   atomic.Uint32
	mu     sync.Mutex // guards closed against Add
	closed bool
}

// New starts a poller's loops.
func New(opts Options) (*Poller, error) {
	if opts.Loops <= 0 {
		opts.Loops = runtime.GOMAXPROCS(0)
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	p := &Poller{opts: opts}
	for range opts.Loops {
		l, err := newLoop(p)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.loops = append(p.loops, l)
		l.run()
	}
	return p, nil
}

// Close stops the loops and closes every connection still registered.
// Owners should have closed theirs first; Close waits for the loops to
// return, so no callback runs after it.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	for _, l := range p.loops {
		l.quit.Store(true)
		l.kick()
	}
	for _, l := range p.loops {
		<-l.done
		for _, c := range l.conns {
			_ = unix.Close(c.fd)
		}
		_ = unix.Close(l.epfd)
		_ = unix.Close(l.efd)
	}
	return nil
}

// Add takes nc over for cb: its file descriptor is duplicated, and the
// connection is registered with a loop by Start. It returns
// ErrUnsupported, leaving nc untouched, when nc has no file descriptor of
// its own (TLS, pipes).
func (p *Poller) Add(nc net.Conn, cb Callbacks) (*Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, ErrUnsupported
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, ErrUnsupported
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(f uintptr) {
		fd, dupErr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	l := p.loops[p.next.Add(1)%uint32(len(p.loops))]
	return &Conn{l: l, fd: fd, cb: cb, nc: nc}, nil
}

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
	l.mu.Unlock()
	p.mu.Unlock()
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

// WakeAll wakes every connection registered.
func (p *Poller) WakeAll() {
	for _, l := range p.loops {
		l.mu.Lock()
		cs := make([]*Conn, 0, len(l.conns))
		for _, c := range l.conns {
			cs = append(cs, c)
		}
		l.mu.Unlock()
		for _, c := range cs {
			c.Wake()
		}
	}
}

// Len returns the number of connections registered.
func (p *Poller) Len() int {
	n := 0
	for _, l := range p.loops {
		l.mu.Lock()
		n += len(l.conns)
		l.mu.Unlock()
	}
	return n
}

// Conn is a connection served by a poller loop. Wake is safe from any
// goroutine; Write, Pending and Close only from its callbacks once Start
// has returned.
type Conn struct {
	l     *loop
	fd    int
	id    int32
	cb    Callbacks
	nc    net.Conn // until Start
	woken atomic.Bool

	// Owned by the loop goroutine.
	pending      []byte // output the socket has not taken yet
	blockedSince time.Time
	gone         bool
	closed       bool
}

// Wake asks for a call of Ready on the connection's loop. Wakes coalesce:
// one not yet served is enough. It never blocks.
func (c *Conn) Wake() {
	if !c.woken.CompareAndSwap(false, true) {
		return
	}
	l := c.l
	l.mu.Lock()
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
		if err != nil && err != unix.EAGAIN {
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
			if ev.Pad != eventfdID {
				l.io = append(l.io, ioEvent{id: ev.Pad, events: ev.Events})
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
	sweeping := false
	for {
		select {
		case <-l.signal:
		case <-sweep.C:
			sweeping = false
			l.sweep()
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
		if len(l.blocked) > 0 && !sweeping {
			sweeping = true
			sweep.Reset(sweepEvery)
		}
	}
}

// sweep ends the connections whose output has waited past the write
// timeout.
func (l *loop) sweep() {
	now := time.Now()
	for c := range l.blocked {
		if now.Sub(c.blockedSince) >= l.p.opts.WriteTimeout {
			delete(l.blocked, c)
			c.setGone(os.ErrDeadlineExceeded)
		}
	}
}
