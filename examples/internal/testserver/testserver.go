// Package testserver serves an example's handler on a loopback port that
// survives a restart, so browser tests can stop a server and start it
// again on the same address while the page keeps its URL.
package testserver

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// Server is an http.Server on a fixed loopback address.
type Server struct {
	// Addr is host:port, fixed for the life of the Server.
	Addr string
	// URL is "http://" + Addr.
	URL string

	t       testing.TB
	srv     *http.Server
	cleanup func() error
	done    chan struct{}
}

// Start serves h on a free loopback port. cleanup, if not nil, is called
// by Stop before the server closes (an App's Close, which ends the SSE
// streams cleanly).
func Start(t testing.TB, h http.Handler, cleanup func() error) *Server {
	t.Helper()
	s := &Server{t: t}
	s.start("127.0.0.1:0", h, cleanup)
	t.Cleanup(s.Stop)
	return s
}

// Restart serves h on the address the server had; Stop it first.
func (s *Server) Restart(h http.Handler, cleanup func() error) {
	s.t.Helper()
	if s.srv != nil {
		s.t.Fatal("testserver: Restart of a running server; Stop it first")
	}
	s.start(s.Addr, h, cleanup)
}

func (s *Server) start(addr string, h http.Handler, cleanup func() error) {
	s.t.Helper()
	var ln net.Listener
	var err error
	// The port was just released by Stop; allow the kernel a moment
	// (Go listeners set SO_REUSEADDR, so TIME_WAIT does not block it).
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("testserver: listen %s: %v", addr, err)
	}
	s.Addr = ln.Addr().String()
	s.URL = "http://" + s.Addr
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.cleanup = cleanup
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("testserver: serve: %v", err)
		}
	}(s.srv, s.done)
}

// Stop ends the streams (through cleanup), closes every connection and
// waits for the serve loop to return. It is idempotent.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	if s.cleanup != nil {
		if err := s.cleanup(); err != nil {
			s.t.Errorf("testserver: cleanup: %v", err)
		}
	}
	if err := s.srv.Close(); err != nil {
		s.t.Errorf("testserver: close: %v", err)
	}
	<-s.done
	s.srv, s.cleanup = nil, nil
}
