//go:build !linux

package ssevents

import "net"

// limitUnsent does nothing off Linux: the socket takes what its send
// buffer holds before a stream sees its client behind.
func limitUnsent(net.Conn) {}
