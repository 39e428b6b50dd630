package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/internal/wire"
)

// defaultRetry is the reconnection delay of a stream whose hub sent no
// `retry:` field, as browsers use (a few seconds; Chrome's is 3 s).
const defaultRetry = 3 * time.Second

// readBufSize is each connection's read buffer: a response head and a
// few small events. 19,000 of them cost 38 MB.
const readBufSize = 2 << 10

// stream is one EventSource-like subscriber of one topic on one hub. It
// connects, records every event, and when its connection ends it waits
// its `retry:` delay (the hub draws each stream's at random within ±20%,
// which is the jitter) and reconnects with Last-Event-ID, as a browser
// does. Unlike a browser it also reconnects after a non-200 answer, and
// counts that stream as one a browser would have given up.
type stream struct {
	idx   int
	topic int
	hub   *hubProc
	run   *run

	mu         sync.Mutex
	got        []delivery
	resyncs    []resyncMark
	lastID     string
	retry      time.Duration
	opened     bool        // a 200 answer arrived at least once
	attempts   int         // connection attempts after the first
	connErrs   int         // attempts that failed before an answer
	statuses   map[int]int // answers an EventSource fails on (non-200, or not an event stream), by status
	gaveUp     bool        // such an answer: an EventSource would stop here
	early      bool        // its retry timer fired before the gate opened
	donePhase  *phase      // the last phase this stream completed
	doneAt     time.Time   // when it completed donePhase
	droppedAt  time.Time   // when its last connection ended
	connectedN int         // answers 200 received
	firstRetry time.Time   // when its first reconnection was attempted
}

// loop runs the stream until ctx ends.
func (s *stream) loop(ctx context.Context, opened chan<- error) {
	first := true
	for ctx.Err() == nil {
		if !first {
			s.waitRetry(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		err := s.connect(ctx, first, opened)
		if first {
			first = false
			if err != nil && !s.isOpened() {
				opened <- err
				return
			}
		}
		s.mu.Lock()
		s.droppedAt = time.Now()
		s.mu.Unlock()
	}
}

func (s *stream) isOpened() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// waitRetry waits the stream's retry delay from when its connection
// ended, and then for the run's gate (closed from the restart until the
// missed events are published), unless the run does not hold streams.
func (s *stream) waitRetry(ctx context.Context) {
	s.mu.Lock()
	d := s.retry
	if d <= 0 {
		d = time.Duration(float64(defaultRetry) * (0.8 + 0.4*rand.Float64()))
	}
	at := s.droppedAt.Add(d)
	s.mu.Unlock()
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	g := s.run.gate.wait()
	select {
	case <-g:
	default:
		s.mu.Lock()
		s.early = true
		s.mu.Unlock()
		if s.run.cfg.noHold {
			return
		}
		select {
		case <-g:
		case <-ctx.Done():
		}
	}
}

// sourceAddrs is the number of loopback addresses (127.0.1.1 ...) the
// streams dial from.
const sourceAddrs = 32

// connect makes one connection and reads it until it ends. On the first
// connection it sends nil on opened once the answer is 200.
func (s *stream) connect(ctx context.Context, first bool, opened chan<- error) error {
	s.mu.Lock()
	if !first {
		s.attempts++
		if s.attempts == 1 {
			s.firstRetry = time.Now()
		}
	}
	last := s.lastID
	s.mu.Unlock()
	start := time.Now()
	// Streams dial from sourceAddrs loopback addresses in turn, as a
	// fleet of browsers comes from many: with every connection from one
	// address, the kernel's search for a free port makes each connect
	// cost more than the hub spends on the stream.
	d := net.Dialer{Timeout: 30 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+s.idx%sourceAddrs))}}
	conn, err := d.DialContext(ctx, "tcp", s.hub.addr)
	if err != nil {
		s.countConnErr("connect", err, start, 0)
		return err
	}
	dialed := time.Now()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() { _ = conn.Close() }()
	req := fmt.Sprintf("GET /events?topic=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
		topicName(s.topic), s.hub.addr)
	if last != "" {
		req += "Last-Event-ID: " + last + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		s.countConnErr("request", err, start, 0)
		return err
	}
	// How long after the connection was established the request was
	// written: a starved load program may write it late, and a hub closes
	// a connection whose request has not arrived within its
	// ReadHeaderTimeout (10 s).
	wrote := time.Since(dialed)
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, readBufSize), nil)
	if err != nil {
		s.countConnErr("answer", err, start, wrote)
		return err
	}
	if !first {
		s.run.countAnswer(time.Since(start))
	}
	defer func() { _ = resp.Body.Close() }()
	// An EventSource fails for good on any answer but a 200 of type
	// text/event-stream.
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		s.mu.Lock()
		if s.statuses == nil {
			s.statuses = map[int]int{}
		}
		s.statuses[resp.StatusCode]++
		s.gaveUp = true
		s.mu.Unlock()
		s.run.countStatus(resp.StatusCode, string(body))
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	s.mu.Lock()
	s.opened = true
	s.connectedN++
	s.mu.Unlock()
	if first {
		opened <- nil
	}
	return s.read(resp.Body, start)
}

// countConnErr counts an attempt, started at start, that failed before
// an answer, by step and error; wrote is when its request was written,
// from when the connection was established, or 0.
func (s *stream) countConnErr(step string, err error, start time.Time, wrote time.Duration) {
	s.mu.Lock()
	s.connErrs++
	s.mu.Unlock()
	if s.run.ctxDone() {
		return // the run ended it
	}
	s.run.countError(step+": "+errorClass(err), time.Since(start), wrote)
}

// errorClass names err briefly: the errno behind it, a timeout, EOF.
func errorClass(err error) string {
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}

// read records the events of one connection until it ends.
func (s *stream) read(body io.Reader, connStart time.Time) error {
	p := wire.NewParser(body)
	for {
		ev, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		now := time.Now()
		s.mu.Lock()
		if r := p.Retry(); r > 0 {
			s.retry = r
		}
		if ev.ID != "" {
			s.lastID = ev.ID
		}
		if ev.Name == "resync" {
			s.resyncs = append(s.resyncs, resyncMark{cursor: ev.ID, connStart: connStart})
		} else {
			s.got = append(s.got, delivery{id: ev.ID, data: ev.Data, at: now})
		}
		s.checkLocked(now)
		s.mu.Unlock()
	}
}

// check marks the stream complete for the current phase if it is.
func (s *stream) check() {
	s.mu.Lock()
	s.checkLocked(time.Now())
	s.mu.Unlock()
}

// checkLocked marks the stream complete for the current phase when it
// has received the last event published to its topic in that phase, or
// a resync that covers it.
func (s *stream) checkLocked(now time.Time) {
	ph := s.run.phase.Load()
	if ph == nil || s.donePhase == ph {
		return
	}
	target := ph.targets[s.topic]
	done := false
	if n := len(s.got); n > 0 {
		if id, err := streamid.Parse(s.got[n-1].id); err == nil && !id.Less(target) {
			done = true
		}
	}
	for _, r := range s.resyncs {
		if r.connStart.Before(ph.published) {
			continue
		}
		c, err := streamid.Parse(r.cursor)
		if r.cursor == "" || (err == nil && !c.Less(target)) {
			done = true
		}
	}
	if !done {
		return
	}
	s.donePhase = ph
	s.doneAt = now
	if ph.remaining.Add(-1) == 0 {
		close(ph.done)
	}
}

// gate is closed from the restart until the missed events are published:
// a stream whose retry timer fires meanwhile waits for it, so that every
// stream has exactly the missed events to catch up.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func newGate() *gate {
	g := &gate{ch: make(chan struct{})}
	close(g.ch)
	return g
}

// wait returns a channel that is closed once the gate is open.
func (g *gate) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}

func (g *gate) shut() {
	g.mu.Lock()
	g.ch = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) open() {
	g.mu.Lock()
	close(g.ch)
	g.mu.Unlock()
}
