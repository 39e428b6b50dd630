package ssevents

import (
	"syscall"

	"github.com/ssevents/ssevents/internal/poller"
	"golang.org/x/sys/unix"
)

// unsentLimit is the most output a stream's socket holds that the kernel
// has not sent yet (TCP_NOTSENT_LOWAT). Without it the kernel takes up to
// its send buffer (megabytes on loopback, autotuned) from a client that
// has stopped reading, so the stream cannot see the client is behind until
// it has written hundreds of events into a socket that goes nowhere, a cost
// in system calls and kernel memory that every stalled client adds to the
// server. With it the socket refuses output once this much waits unsent
// (what is in flight is still bounded only by the client's window, so a
// reader on a long path loses no throughput), and the rest waits in the
// stream's queue, counted against MaxQueueBytes. 64 KiB is a few hundred
// typical events, and several round trips' worth of refill at any rate a
// notification stream runs.
const unsentLimit = 64 << 10

// limitUnsent sets unsentLimit on a hijacked connection's socket (raw,
// from rawConn; nil: none); best effort.
func limitUnsent(raw syscall.RawConn) {
	if raw == nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, unsentLimit)
	})
}

// acceptingProbe returns a probe of whether the hijacked connection's
// socket takes output now (see sse.Queue.SetAccepting), or nil.
func (s *stream) acceptingProbe() func() bool {
	raw := s.raw
	if raw == nil {
		return nil
	}
	return func() bool {
		ok := false
		if err := raw.Control(func(fd uintptr) { ok = poller.SocketWritable(int(fd)) }); err != nil {
			return false
		}
		return ok
	}
}
