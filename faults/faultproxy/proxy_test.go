package faultproxy_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ssevents/ssevents/faults/faultproxy"
	"github.com/ssevents/ssevents/internal/redistest"
)

// conn is a RESP connection for PINGs.
type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &conn{Conn: c, r: bufio.NewReader(c)}
}

// ping sends PING and waits up to wait for +PONG.
func (c *conn) ping(wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := c.r.ReadString('\n')
	if err == nil && line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return err
}

// TestProxy checks each fault against a real redis-server: PING through
// the proxy, none during a blackhole, again after Heal, slower with
// Latency, and a cut connection with CutAll.
func TestProxy(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := faultproxy.Start(t, srv.Addr())
	if p.Addr() == srv.Addr() {
		t.Fatalf("proxy address %s is the upstream's", p.Addr())
	}
	old := dial(t, p.Addr())
	if err := old.ping(5 * time.Second); err != nil {
		t.Fatalf("PING through the proxy: %v", err)
	}

	p.Blackhole()
	if err := old.ping(300 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING on an open connection during Blackhole: %v, want a timeout", err)
	}
	fresh := dial(t, p.Addr()) // accepted: the proxy still listens
	if err := fresh.ping(300 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING on a new connection during Blackhole: %v, want a timeout", err)
	}

	p.Heal()
	if err := dial(t, p.Addr()).ping(5 * time.Second); err != nil {
		t.Fatalf("PING after Heal: %v", err)
	}
	if err := old.ping(5 * time.Second); err == nil {
		t.Fatalf("PING on a connection that went through the blackhole answered after Heal")
	}

	const delay = 200 * time.Millisecond
	p.Latency(delay)
	slow := dial(t, p.Addr())
	start := time.Now()
	if err := slow.ping(5 * time.Second); err != nil {
		t.Fatalf("PING with Latency: %v", err)
	}
	if d := time.Since(start); d < delay {
		t.Fatalf("PING with Latency(%v) took %v", delay, d)
	}
	p.Heal()
	start = time.Now()
	if err := slow.ping(5 * time.Second); err != nil {
		t.Fatalf("PING after healing latency, same connection: %v", err)
	}
	if d := time.Since(start); d >= delay {
		t.Fatalf("PING after Heal took %v, still delayed", d)
	}

	p.CutAll()
	if err := slow.ping(time.Second); err == nil || isTimeout(err) {
		t.Fatalf("PING on a connection cut by CutAll: %v, want it closed", err)
	}
	if err := dial(t, p.Addr()).ping(5 * time.Second); err != nil {
		t.Fatalf("PING on a new connection after CutAll: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
