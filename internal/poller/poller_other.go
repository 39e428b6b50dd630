//go:build !linux

package poller

import "net"

// Poller is not available on this system: New returns ErrUnsupported.
type Poller struct{}

// New returns ErrUnsupported on this system.
func New(Options) (*Poller, error) { return nil, ErrUnsupported }

// Close does nothing.
func (p *Poller) Close() error { return nil }

// Add returns ErrUnsupported on this system.
func (p *Poller) Add(net.Conn, Callbacks) (*Conn, error) { return nil, ErrUnsupported }

// WakeAll does nothing.
func (p *Poller) WakeAll() {}

// Len returns 0.
func (p *Poller) Len() int { return 0 }

// Conn is not available on this system.
type Conn struct{}

// Start returns ErrUnsupported.
func (c *Conn) Start() error { return ErrUnsupported }

// Wake does nothing.
func (c *Conn) Wake() {}

// Write returns ErrUnsupported.
func (c *Conn) Write(...[]byte) error { return ErrUnsupported }

// Pending returns 0.
func (c *Conn) Pending() int { return 0 }

// Close does nothing.
func (c *Conn) Close() error { return nil }

// Writable reports false: there is no poller here.
func (c *Conn) Writable() bool { return false }
