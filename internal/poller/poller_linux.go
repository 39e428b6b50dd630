//go:build linux

package poller

import (
	"net"
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
			_ = p.Close()
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
