package redistest

import (
	"net"
	"strconv"
	"testing"
)

// A server whose port another process took after it was chosen starts on
// another port instead of failing its test.
func TestStartMovesOffATakenPort(t *testing.T) {
	t.Parallel()
	port := freePort(t, false)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // hang up on whoever connects, as a foreign server might
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	s := start(t, port)
	if s.Port == port {
		t.Fatalf("the server says it took port %d, which this test holds", port)
	}
	if pong, err := s.Do("PING"); err != nil || pong != "PONG" {
		t.Fatalf("PING on port %d: %q, %v", s.Port, pong, err)
	}
	s.Restart() // and comes back on its new port
	if pong, err := s.Do("PING"); err != nil || pong != "PONG" {
		t.Fatalf("PING after Restart on port %d: %q, %v", s.Port, pong, err)
	}
}
