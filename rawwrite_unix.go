//go:build unix

package ssevents

import (
	"errors"
	"net"
	"syscall"
)

// rawConn returns the socket of a hijacked connection, for writes that
// see when the client's socket is full; nil when it has none of its own
// (TLS).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// writeRaw writes b to the socket: while the socket takes it, at once;
// once it takes no more, it tells the subscription the client is behind
// and waits for the socket (within the write deadline), then tells it the
// client caught up. So only the client's own slowness counts against its
// queue, never a delay in scheduling this goroutine.
func (s *stream) writeRaw(b []byte) error {
	behind := false
	var werr error
	err := s.raw.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, err := syscall.Write(int(fd), b)
			if n > 0 {
				b = b[n:]
			}
			switch {
			case err == nil:
			case errors.Is(err, syscall.EINTR):
			case errors.Is(err, syscall.EAGAIN):
				if !behind {
					behind = true
					// What is left of b is mostly events this goroutine
					// was late to write, not refused ones: the client is
					// behind by what arrives from now on.
					s.paced.SetUnaccepted(1)
				}
				return false // wait until the socket is writable
			default:
				werr = err
				return true
			}
		}
		return true
	})
	if behind {
		s.paced.SetUnaccepted(0)
	}
	if werr != nil {
		return werr
	}
	return err
}
