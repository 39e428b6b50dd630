//go:build linux

package poller

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// pair returns a server-side TCP connection and the client side of it.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close() })
	return server, client
}

// owner records a connection's callbacks; its methods run on the loop.
type owner struct {
	c     *Conn
	mu    sync.Mutex
	ready int
	gone  chan error
	// onReady, when set, runs on each Ready (on the loop goroutine).
	onReady func(o *owner)
}

func newOwner() *owner { return &owner{gone: make(chan error, 1)} }

func (o *owner) callbacks() Callbacks {
	return Callbacks{
		Ready: func() {
			o.mu.Lock()
			o.ready++
			o.mu.Unlock()
			if o.onReady != nil {
				o.onReady(o)
			}
		},
		Gone: func(err error) {
			o.c.Close()
			o.gone <- err
		},
	}
}

func start(t *testing.T, p *Poller, nc net.Conn, o *owner) {
	t.Helper()
	c, err := p.Add(nc, o.callbacks())
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
}

func newPoller(t *testing.T, opts Options) *Poller {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestWritesReachThePeerInOrder(t *testing.T) {
	p := newPoller(t, Options{Loops: 2})
	server, client := pair(t)
	o := newOwner()
	var n int
	o.onReady = func(o *owner) {
		// Several buffers per call, as a stream writes several events.
		for range 3 {
			n++
			if err := o.c.Write([]byte("a"), []byte{byte('0' + n%10)}, []byte("\n")); err != nil {
				t.Error(err)
			}
		}
	}
	start(t, p, server, o)
	for i := range 4 {
		o.c.Wake()
		// Wait for this Ready: a wake while one is pending coalesces.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			o.mu.Lock()
			n := o.ready
			o.mu.Unlock()
			if n > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ready not called after wake %d", i+1)
			}
		}
	}
	want := "a1\na2\na3\na4\na5\na6\na7\na8\na9\na0\na1\na2\n"
	got := make([]byte, len(want))
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("read %q: %v", got, err)
	}
	if string(got) != want {
		t.Fatalf("peer read %q, want %q", got, want)
	}
}

func TestWakesCoalesce(t *testing.T) {
	p := newPoller(t, Options{Loops: 1})
	server, _ := pair(t)
	block := make(chan struct{})
	o := newOwner()
	first := true
	o.onReady = func(o *owner) {
		if first {
			first = false
			<-block // hold the loop while more wakes arrive
		}
	}
	start(t, p, server, o)
	o.c.Wake()
	time.Sleep(20 * time.Millisecond) // the loop is now in the first Ready
	for range 100 {
		o.c.Wake()
	}
	close(block)
	deadline := time.Now().Add(2 * time.Second)
	for {
		o.mu.Lock()
		n := o.ready
		o.mu.Unlock()
		if n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("Ready ran %d times for 1 wake and then 100 wakes while busy, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ready != 2 {
		t.Fatalf("Ready ran %d times, want 2", o.ready)
	}
}

func TestPeerCloseAndPeerDataAreGone(t *testing.T) {
	p := newPoller(t, Options{})
	for _, tc := range []struct {
		name string
		do   func(c net.Conn)
	}{
		{"close", func(c net.Conn) { c.Close() }},
		{"half-close", func(c net.Conn) { c.(*net.TCPConn).CloseWrite() }},
		{"data", func(c net.Conn) { _, _ = c.Write([]byte("GET / HTTP/1.1\r\n")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := pair(t)
			o := newOwner()
			start(t, p, server, o)
			tc.do(client)
			select {
			case err := <-o.gone:
				if !errors.Is(err, io.EOF) {
					t.Fatalf("Gone(%v), want io.EOF", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Gone was not called")
			}
		})
	}
}

func TestBlockedOutputWaitsThenDrains(t *testing.T) {
	p := newPoller(t, Options{Loops: 1, WriteTimeout: time.Minute})
	server, client := pair(t)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	const chunks = 1024 // 64 MiB: far more than the socket buffers hold
	o := newOwner()
	written := 0
	pendingSeen := make(chan int, 1)
	o.onReady = func(o *owner) {
		for written < chunks && o.c.Pending() == 0 {
			if err := o.c.Write(chunk); err != nil {
				t.Error(err)
				return
			}
			written++
		}
		if o.c.Pending() > 0 {
			select {
			case pendingSeen <- o.c.Pending():
			default:
			}
		}
	}
	start(t, p, server, o)
	o.c.Wake()
	select {
	case n := <-pendingSeen:
		if n <= 0 {
			t.Fatalf("pending %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the socket never filled")
	}
	// Reading drains the socket; the poller writes what was pending and
	// calls Ready again, until everything is written.
	_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.CopyN(io.Discard, client, chunks*int64(len(chunk)))
	if err != nil {
		t.Fatalf("read %d of %d bytes: %v", n, chunks*len(chunk), err)
	}
}

func TestWriteTimeoutEndsAStuckConnection(t *testing.T) {
	p := newPoller(t, Options{Loops: 1, WriteTimeout: 300 * time.Millisecond})
	server, client := pair(t)
	_ = client.(*net.TCPConn).SetReadBuffer(4096)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	o := newOwner()
	o.onReady = func(o *owner) {
		for o.c.Pending() == 0 {
			if err := o.c.Write(chunk); err != nil {
				return
			}
		}
	}
	start(t, p, server, o)
	o.c.Wake()
	select {
	case err := <-o.gone:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Gone(%v), want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a connection whose peer never reads was not ended")
	}
}

func TestOneStuckConnectionDoesNotDelayAnother(t *testing.T) {
	p := newPoller(t, Options{Loops: 1, WriteTimeout: time.Minute})
	stuckServer, stuckClient := pair(t)
	_ = stuckClient.(*net.TCPConn).SetReadBuffer(4096)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	stuck := newOwner()
	stuck.onReady = func(o *owner) {
		for o.c.Pending() == 0 {
			if err := o.c.Write(chunk); err != nil {
				return
			}
		}
	}
	start(t, p, stuckServer, stuck)
	stuck.c.Wake()

	server, client := pair(t)
	o := newOwner()
	o.onReady = func(o *owner) { _ = o.c.Write([]byte("ping\n")) }
	start(t, p, server, o)
	for range 10 {
		o.c.Wake()
		buf := make([]byte, 5)
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "ping\n" {
			t.Fatalf("read %q, %v: a stuck connection on the same loop held up another", buf, err)
		}
	}
}

func TestCloseReleasesLoopsAndDescriptors(t *testing.T) {
	before := openFiles(t)
	goroutines := runtime.NumGoroutine()
	p, err := New(Options{Loops: 3})
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for range 20 {
		server, client := pair(t)
		clients = append(clients, client)
		o := newOwner()
		start(t, p, server, o)
	}
	if n := p.Len(); n != 20 {
		t.Fatalf("Len = %d, want 20", n)
	}
	p.Close()
	for _, c := range clients {
		// The poller closed its side: the peer sees the end.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("peer read after Close: %v, want EOF", err)
		}
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	if after := openFiles(t); after > before {
		t.Fatalf("open files %d after Close, %d before", after, before)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		t.Fatalf("%d goroutines after Close, %d before", g, goroutines)
	}
	server, _ := pair(t)
	c, err := p.Add(server, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
	server.Close()
}

func TestAddRefusesConnectionsWithoutADescriptor(t *testing.T) {
	p := newPoller(t, Options{Loops: 1})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := p.Add(a, Callbacks{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Add(pipe) = %v, want ErrUnsupported", err)
	}
}

func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestWakeBeforeStartRunsReadyAfterStart(t *testing.T) {
	p := newPoller(t, Options{Loops: 1})
	server, _ := pair(t)
	o := newOwner()
	started := false
	var mu sync.Mutex
	readyBeforeStart := false
	o.onReady = func(o *owner) {
		mu.Lock()
		defer mu.Unlock()
		if !started {
			readyBeforeStart = true
		}
	}
	c, err := p.Add(server, o.callbacks())
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	c.Wake() // as a heartbeat or an expired token may, before the owner is done
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	started = true
	mu.Unlock()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		o.mu.Lock()
		n := o.ready
		o.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready ran %d times after a Wake before Start, want 1", n)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if readyBeforeStart {
		t.Fatal("Ready ran before Start")
	}
}

// TestPartialWritevKeepsEveryBufferExactlyOnce writes three 64 KiB buffers
// of distinct content in one Write into a socket whose buffers are small,
// so that writev takes only part of them: the peer must read exactly their
// concatenation, whichever buffer the socket stopped in, and whether the
// rest went out in one flush or several.
func TestPartialWritevKeepsEveryBufferExactlyOnce(t *testing.T) {
	p := newPoller(t, Options{Loops: 1, WriteTimeout: time.Minute})
	server, client := pair(t)
	if err := server.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := client.(*net.TCPConn).SetReadBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 3)
	var want []byte
	for i := range bufs {
		bufs[i] = make([]byte, 64<<10)
		for j := range bufs[i] {
			bufs[i][j] = byte(i*97 + j*31 + j>>8) // distinct in every buffer and along it
		}
		want = append(want, bufs[i]...)
	}
	o := newOwner()
	pending := make(chan int, 1)
	once := false
	o.onReady = func(o *owner) {
		if once {
			return
		}
		once = true
		if err := o.c.Write(bufs...); err != nil {
			t.Error(err)
		}
		pending <- o.c.Pending()
	}
	start(t, p, server, o)
	o.c.Wake()
	select {
	case n := <-pending:
		if n <= 0 || n >= len(want) {
			t.Fatalf("pending %d of %d after the first writev: the socket took all or nothing; the test needs a partial write", n, len(want))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ready never ran")
	}
	got := make([]byte, len(want))
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Small reads, so that the poller flushes the rest in several parts.
	for off := 0; off < len(got); {
		n, err := client.Read(got[off:min(off+4096, len(got))])
		if err != nil {
			t.Fatalf("read %d of %d bytes: %v", off, len(got), err)
		}
		off += n
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the peer read other bytes than the three buffers in order: first difference at byte %d of %d", i, len(want))
	}
	_ = client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := client.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer read %d more bytes (%v): output was written twice", n, err)
	}
}
