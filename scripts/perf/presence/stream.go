package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sseEvent is one event of a stream: its name ("" for message) and data.
type sseEvent struct {
	name, data string
}

// sseReader reads the events of a text/event-stream. It keeps only what
// presload looks at (event and data fields); ids, retries and comments
// are skipped.
type sseReader struct {
	r *bufio.Reader
}

// readBufSize is each watcher's read buffer: a presence snapshot of
// ssevents (up to its default limit of 1,000 members) or a join, read
// line by line; 12,000 streams cost 48 MB with it, so plain streams use
// discardBufSize.
const readBufSize = 4 << 10

// discardBufSize is the read buffer of a stream that is not a watcher:
// its answer's head and its first event (Centrifugo's connect reply).
const discardBufSize = 1 << 10

// next returns the next event, or io.EOF at the end of the stream.
func (p *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data strings.Builder
	seen := false
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return ev, io.EOF
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !seen {
				continue
			}
			ev.data = data.String()
			return ev, nil
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name, seen = value, true
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			seen = true
		}
	}
}

// stream is one SSE stream of one user on one topic.
type stream struct {
	idx   int
	topic int
	user  string
	watch bool

	mu      sync.Mutex
	conn    net.Conn
	closing bool // closed by presload, not by the server
	open    bool
}

// streamEnv is what every stream shares: the target, the server's
// address, its source addresses, the watchers' event log and counters.
type streamEnv struct {
	tgt     target
	addr    string   // host:port of the server
	sources []net.IP // loopback source addresses, used in turn
	topics  []string
	log     *eventLog
	dropped atomic.Int64 // streams the server ended
	bytes   atomic.Int64 // bytes read by streams that are not watchers, after their first event
}

// openTimeout bounds a stream's connect, its answer and its first event.
const openTimeout = 60 * time.Second

// open connects s and starts reading it; it returns once the server
// answered 200 (and, for Centrifugo, confirmed the subscription).
func (e *streamEnv) open(ctx context.Context, s *stream) error {
	topic := e.topics[s.topic]
	path, header, err := e.tgt.streamRequest(s.user, topic, s.watch)
	if err != nil {
		return err
	}
	// Several source addresses, as a fleet of browsers comes from many:
	// from one address, the kernel's search for a free port makes each
	// connect cost more than the server spends on the stream.
	d := net.Dialer{Timeout: openTimeout, LocalAddr: &net.TCPAddr{IP: e.sources[s.idx%len(e.sources)]}}
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(openTimeout))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n", path, e.addr)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	fail := func(err error) error { _ = conn.Close(); return err }
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return fail(fmt.Errorf("request: %w", err))
	}
	size := discardBufSize
	if s.watch {
		size = readBufSize
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, size), nil) //nolint:bodyclose // the body is the stream: closing conn ends it
	if err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fail(fmt.Errorf("answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body))))
	}
	r := &sseReader{r: bufio.NewReaderSize(resp.Body, size)}
	if check := e.tgt.confirm(topic); check != nil {
		ev, err := r.next()
		if err != nil {
			return fail(fmt.Errorf("first event: %w", err))
		}
		if err := check(ev); err != nil {
			return fail(err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conn, s.open, s.closing = conn, true, false
	s.mu.Unlock()
	go e.read(s, r, conn)
	return nil
}

// read reads s until its connection ends: a watcher's events go to the
// event log, anything else is counted and dropped.
func (e *streamEnv) read(s *stream, r *sseReader, conn net.Conn) {
	if s.watch {
		for {
			ev, err := r.next()
			if err != nil {
				break
			}
			if kind, user, ok := e.tgt.change(ev); ok {
				e.log.record(s.topic, kind, user)
			}
		}
	} else {
		n, _ := io.Copy(io.Discard, r.r)
		e.bytes.Add(n)
	}
	s.mu.Lock()
	// A connection closed by churn may end after the stream was opened
	// again on a new one: only the current connection's end counts.
	if s.conn == conn {
		if !s.closing {
			e.dropped.Add(1)
		}
		s.open = false
	}
	s.mu.Unlock()
	_ = conn.Close()
}

// close ends s from this side, as a closed tab does.
func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.closing, s.open = true, false
		_ = s.conn.Close()
	}
}
