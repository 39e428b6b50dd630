// Package poller serves many write-mostly connections from a few
// goroutines: a loop per core waits on the kernel's readiness events
// (epoll), writes with non-blocking writes (writev of shared buffers), and
// calls back into the connection's owner when it may write more or when
// the peer has gone. An idle connection holds no goroutine and no buffer.
//
// It exists for SSE streams: once a response has started, the server only
// writes, and the client only ever closes. Anything the client sends after
// its request ends the connection.
//
// It runs on Linux; New reports ErrUnsupported elsewhere, and callers keep
// a goroutine per connection there.
package poller

import (
	"errors"
	"time"
)

// ErrUnsupported is returned by New on systems without epoll, and by Add
// for a connection whose file descriptor cannot be taken over (TLS, a
// pipe, a wrapper).
var ErrUnsupported = errors.New("poller: not supported")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("poller: closed")

// Callbacks are a connection's owner's hooks. They run on the connection's
// loop goroutine, one at a time per loop, and must not block: a loop
// serves thousands of connections.
type Callbacks struct {
	// Ready is called after Wake (even while output waits for the socket:
	// Pending tells), when the socket took some of the output that waited
	// for it (Pending is then smaller), and once it has all been written
	// (Pending is then 0).
	Ready func()
	// Gone is called once when the peer closed the connection, sent
	// anything, or output waited longer than the write timeout
	// (os.ErrDeadlineExceeded). The owner should Close the connection.
	Gone func(err error)
}

// Options configure a Poller. Zero fields take their defaults.
type Options struct {
	// Loops is the number of loop goroutines. Default: GOMAXPROCS.
	Loops int
	// WriteTimeout bounds how long output may wait for a socket that
	// does not drain before Gone is called with os.ErrDeadlineExceeded.
	// Default 10 s.
	WriteTimeout time.Duration
}
