//go:build !linux

package ssevents

import "syscall"

// limitUnsent does nothing off Linux: the socket takes what its send
// buffer holds before a stream sees its client behind.
func limitUnsent(syscall.RawConn) {}

// acceptingProbe returns nil off Linux: a client behind is judged by what
// it left unaccepted alone.
func (s *stream) acceptingProbe() func() bool { return nil }
