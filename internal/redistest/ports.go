package redistest

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Ports are drawn at random below the kernel's ephemeral range (32768 and
// up on Linux), cluster bus ports (+10000) included: a port that a Server
// gives up while it is stopped is then not handed to some other socket of
// this or another test process, which asks the kernel for port 0, before
// Restart takes it back.
const (
	minPort = 12000
	maxPort = 22000 // exclusive; +10000 stays under 32768
)

// freePort returns a loopback TCP port that is free now. With bus set, port
// + 10000 (the cluster bus port) is free too.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 200 {
		port := minPort + rand.IntN(maxPort-minPort)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		if !bus {
			_ = l.Close()
			return port
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		_ = l.Close()
		if err == nil {
			_ = l2.Close()
			return port
		}
	}
	t.Fatalf("no free port between %d and %d", minPort, maxPort)
	return 0
}
