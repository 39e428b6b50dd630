//go:build !unix

package ssevents

import (
	"net"
	"syscall"
)

// rawConn returns nil: off Unix a stream writes through the connection,
// and a paced subscription counts the client behind for each whole write.
func rawConn(net.Conn) syscall.RawConn { return nil }

// writeRaw is not used off Unix (rawConn is nil).
func (s *stream) writeRaw(b []byte) error { return s.writeThrough(b) }
