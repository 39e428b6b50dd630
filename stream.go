package ssevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssevents/ssevents/internal/heartbeat"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// stream writes one SSE response, on one of two I/O paths.
//
// Over HTTP/1.x it takes the connection over from net/http (Hijack) once
// the stream is authorized and subscribed, so net/http's per-connection
// buffers and goroutines are freed; the response is then delimited by the
// connection's end, as HTTP/1.1 allows. The request's goroutine writes the
// retry line and the backlog, then, on Linux, hands the socket to the
// handler's poller (pollstream.go): from then on the stream holds no
// goroutine and no buffer while idle, and a loop per core writes its
// events. Elsewhere (and with Config.DisablePoller, a TLS connection, or a
// subscription that cannot call back) a goroutine per stream runs live,
// with a second one that notices the client leave.
//
// Where the connection cannot be taken over (HTTP/2, a ResponseWriter
// wrapper without Hijack, a recorder in tests) it writes through the
// ResponseWriter from the request's goroutine, with one Flush per batch.
type stream struct {
	h      *Handler
	sub    sse.Subscription
	cancel context.CancelFunc // ends live on the goroutine paths; nil on the poller
	topics []string
	// topicLines holds the topic line of each of topics on a stream of
	// several (see streamtopic.go); nil on a stream of one.
	topicLines [][]byte
	remote     string
	// expires is when the credentials that authorized the stream end
	// (ExpireStreamAt); zero: never.
	expires time.Time
	// pres is the stream's place in the presence store; nil when none of
	// its topics is tracked.
	pres *presenceRef

	out         io.Writer
	setDeadline func(time.Time) error
	flusher     func() error
	conn        net.Conn // set when hijacked
	// raw writes to the hijacked connection's socket without blocking,
	// where the system allows (rawwrite_unix.go); nil elsewhere.
	raw syscall.RawConn
	// paced is the subscription, when it judges the client by what it has
	// not accepted (nil otherwise); interrupt, set on the goroutine paths,
	// ends a write blocked on a client whose queue overflowed meanwhile.
	paced     sse.Unaccepting
	interrupt atomic.Pointer[func(time.Time) error]

	buf   []byte
	batch []sse.Event
	last  time.Time        // of the last write, for heartbeats
	beat  *heartbeat.Entry // in h's heartbeat scheduler while live

	poll pollState // on the poller path
}

// hijack takes the connection over and writes the response head itself. It
// reports false, having written nothing, when the connection cannot be
// taken over.
func (s *stream) hijack(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 || s.h.cfg.DisableHijack {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	_ = conn.SetDeadline(time.Time{}) // clear any server read or write timeout
	hdr := w.Header()
	hdr.Set("Connection", "close")
	hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = hdr.Write(&head)
	head.WriteString("\r\n")
	s.buf = append(s.buf, head.Bytes()...)
	_ = brw // its reader may hold a pipelined request, which a stream ignores; dropping it frees the buffers
	s.conn, s.out, s.setDeadline = conn, conn, conn.SetWriteDeadline
	s.raw = rawConn(conn)
	limitUnsent(s.raw)
	if probe := s.acceptingProbe(); probe != nil && s.paced != nil {
		s.paced.SetAccepting(probe)
	}
	setDeadline := conn.SetWriteDeadline // a copy: the poller path clears the field
	s.interrupt.Store(&setDeadline)
	return true
}

// serveHijacked writes the retry line and the backlog from the request's
// goroutine, then hands the stream to the poller, or else to a goroutine
// of its own.
func (s *stream) serveHijacked() {
	p := s.h.poller()
	if p == nil {
		s.goLive(true)
		return
	}
	if err := s.catchUp(); err != nil {
		s.end(err)
		return
	}
	if !s.startPolled(p) {
		s.goLive(false)
	}
}

// goLive serves the stream from a goroutine of its own, with another that
// watches for the client leaving; catchUp tells whether the retry line and
// backlog are still to write.
func (s *stream) goLive(catchUp bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.h.wg.Add(1)
	go s.watchClose()
	go func() {
		var err error
		if catchUp {
			err = s.catchUp()
		}
		if err == nil {
			err = s.live(ctx)
		}
		s.end(err)
	}()
}

// watchClose cancels the stream when the client closes the connection. A
// client sends nothing after its request, so any read result ends it:
// a client that sends bytes instead is dropped, not read byte by byte.
func (s *stream) watchClose() {
	defer s.h.wg.Done()
	var b [1]byte
	_, _ = s.conn.Read(b[:])
	s.cancel()
}

// run writes the retry line, the backlog and the live events until the
// client leaves, the subscription ends or the handler is closed; then it
// releases the stream's slot.
func (s *stream) run(ctx context.Context) {
	err := s.catchUp()
	if err == nil {
		err = s.live(ctx)
	}
	s.end(err)
}

// catchUp writes the retry line and the backlog.
func (s *stream) catchUp() error {
	s.buf = wire.AppendRetry(s.buf, jitteredRetry(s.h.cfg.Retry))
	if err := s.flush(); err != nil {
		return err
	}
	return s.backlog(s.sub.Backlog())
}

// end releases what the stream holds, after err ended it, and its slot.
func (s *stream) end(err error) {
	h := s.h
	_ = s.sub.Close()
	if s.pres != nil {
		s.pres.release()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.conn != nil {
		_ = s.conn.Close()
	}
	h.conns.Add(-1)
	h.metrics.connsCurrent.Add(-1)
	if errors.Is(err, sse.ErrSlowConsumer) || errors.Is(err, os.ErrDeadlineExceeded) {
		// Its queue overflowed, or a write waited longer than WriteTimeout.
		// Counted once it is gone, so that whoever sees the count sees
		// the stream gone too.
		h.metrics.slowConsumers.Add(1)
		h.cfg.Logger.Warn("slow subscriber disconnected", "topics", s.topics, "remote", s.remote, "reason", err)
	}
	if errors.Is(err, sse.ErrLagging) {
		h.cfg.Logger.Warn("server fell too far behind a subscriber; it resumes from history", "topics", s.topics, "remote", s.remote)
	}
	h.wg.Done()
}

// flush writes buf in one write, under a deadline, then flushes it.
func (s *stream) flush() error {
	if s.h.cfg.WriteTimeout > 0 {
		_ = s.setDeadline(time.Now().Add(s.h.cfg.WriteTimeout)) // unsupported by some writers; then there is no deadline
	}
	err := s.write(s.buf)
	s.buf = s.buf[:0]
	if cap(s.buf) > 64<<10 {
		s.buf = nil // after a large batch, give the memory back
	}
	s.last = time.Now()
	if s.beat != nil {
		s.beat.Wrote(s.last)
	}
	return err
}

// resyncData is the data of a resync event: the topic's sse.Resync, and
// "topics": [topic] as clients that predate the reason read it.
type resyncData struct {
	Topics []string `json:"topics"`
	sse.Resync
}

// backlog writes one resync event per topic of b.Resync, each with the
// cursor as id, then b's events.
func (s *stream) backlog(b sse.Backlog) error {
	for _, r := range b.Resync {
		s.h.metrics.resyncs.Add(1)
		data, _ := json.Marshal(resyncData{Topics: []string{r.Topic}, Resync: r})
		topic := "" // a stream of one topic keeps its bytes
		if s.topicLines != nil {
			topic = r.Topic
		}
		s.buf = wire.AppendEventTopic(s.buf, b.Cursor, sse.EventResync, topic, data)
	}
	// Written in batches so that a long backlog is not one huge buffer.
	const batchBytes = 32 << 10
	for i, ev := range b.Events {
		s.buf = s.appendEvent(s.buf, ev)
		if len(s.buf) >= batchBytes || i == len(b.Events)-1 {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	for _, ev := range b.Events {
		if ev.ID != "" { // not a presence snapshot
			s.h.metrics.replayed.Add(1)
		}
	}
	if len(s.buf) > 0 {
		return s.flush()
	}
	return nil
}

// heartbeats returns the handler's heartbeat scheduler, started on first
// use by a stream (so within the stream's synctest bubble in tests) and
// stopped by Close.
func (h *Handler) heartbeats() *heartbeat.Scheduler {
	h.beatsOnce.Do(func() {
		h.beats = heartbeat.New(h.cfg.HeartbeatInterval)
		h.wg.Add(1) // the calling stream holds h.wg, so Close is not waiting on zero yet
		go func() {
			defer h.wg.Done()
			h.beats.Run(h.ctx)
		}()
	})
	return h.beats
}

func (s *stream) live(ctx context.Context) error {
	s.beat = s.h.heartbeats().Add(s.last)
	defer s.beat.Remove()
	var expired <-chan time.Time // nil (never) without an expiry
	if !s.expires.IsZero() {
		t := time.NewTimer(time.Until(s.expires))
		defer t.Stop()
		expired = t.C
	}
	notify := s.sub.Notify() // once: a Queue makes its channel on the first call, under its lock
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-expired:
			return s.expire()
		case <-s.h.ctx.Done():
			// Shutting down: publishing has stopped; what is queued is
			// written before the stream ends.
			if err := s.writeQueued(); err != nil && !errors.Is(err, sse.ErrBrokerClosed) {
				return err
			}
			return nil
		case <-notify:
			if err := s.writeQueued(); err != nil {
				return err
			}
		case <-s.beat.C():
			// Only an idle stream needs a heartbeat: the scheduler wakes
			// one idle for the interval, but it may have written since.
			if !s.appendHeartbeat(time.Now()) {
				continue
			}
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
}

// tokenExpiredData is the data of a token_expired event.
type tokenExpiredData struct {
	Exp int64 `json:"exp"`
}

// expire ends a stream whose credentials expired: the events already
// queued (published while they were valid), then the token_expired event.
func (s *stream) expire() error {
	if err := s.writeQueued(); err != nil {
		return err
	}
	s.appendTokenExpired()
	return s.flush()
}

// appendTokenExpired appends the token_expired event to s.buf.
func (s *stream) appendTokenExpired() {
	data, _ := json.Marshal(tokenExpiredData{Exp: s.expires.Unix()})
	s.buf = wire.AppendEvent(s.buf, "", sse.EventTokenExpired, data)
}

// appendHeartbeat appends a heartbeat (a comment, or with HeartbeatEvent
// a heartbeat event) to s.buf if the stream has been idle for about the
// interval, and reports whether it did: the scheduler wakes a stream idle
// for the interval, but it may have written since.
func (s *stream) appendHeartbeat(now time.Time) bool {
	if now.Sub(s.last) < s.h.cfg.HeartbeatInterval*9/10 {
		return false
	}
	if s.h.cfg.HeartbeatEvent {
		s.buf = appendHeartbeatEvent(s.buf, now)
	} else {
		s.buf = wire.AppendComment(s.buf, "heartbeat")
	}
	return true
}

// writeQueued writes the events waiting in the subscription in one batch,
// then returns the error that ended the subscription, if it has ended.
func (s *stream) writeQueued() error {
	var err error
	s.batch, err = s.sub.Drain(s.batch[:0])
	if len(s.batch) > 0 {
		for _, ev := range s.batch {
			s.buf = s.appendEvent(s.buf, ev)
		}
		s.h.metrics.countDelivered(len(s.batch))
		if werr := s.flush(); werr != nil {
			s.h.metrics.countDelivered(-len(s.batch))
			return werr
		}
		s.h.metrics.observeLatency(s.batch, s.last)
		clear(s.batch)
		if cap(s.batch) > 64 {
			s.batch = nil
		}
	}
	return err
}

func appendHeartbeatEvent(dst []byte, now time.Time) []byte {
	data := make([]byte, 0, 48)
	data = append(data, `{"time":"`...)
	data = now.UTC().AppendFormat(data, time.RFC3339)
	data = append(data, `"}`...)
	return wire.AppendEvent(dst, "", sse.EventHeartbeat, data)
}
