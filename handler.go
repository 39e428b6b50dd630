package ssevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/wire"
)

// Handler serves the SSE endpoint: GET ?topic=a,b (or repeated topic=)
// streams the events of every requested topic on one connection, after
// replaying what the client missed when it sends Last-Event-ID (or
// ?lastEventId= on a first connection).
//
// Each connection has a bounded queue; a client that cannot keep up is
// disconnected (it can resume from history) and never slows a publisher or
// another client. Handler is safe for concurrent use.
type Handler struct {
	cfg     Config
	broker  Broker
	metrics *Metrics

	conns atomic.Int64

	ctx    context.Context // ended by Close: every stream returns
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHandler returns a handler that streams from b. Zero fields of cfg take
// their defaults; m may be nil.
func NewHandler(cfg Config, b Broker, m *Metrics) *Handler {
	if m == nil {
		m = NewMetrics()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{cfg: cfg.withDefaults(), broker: b, metrics: m, ctx: ctx, cancel: cancel}
}

// Connections returns the number of open streams.
func (h *Handler) Connections() int { return int(h.conns.Load()) }

// Close ends every open stream cleanly and waits for their handlers to
// return. Later requests are answered 503.
func (h *Handler) Close() error {
	h.cancel()
	h.wg.Wait()
	return nil
}

// retryAfterSeconds is the Retry-After sent with a 503 for the connection
// limit: long enough for load to move elsewhere, short enough that a
// browser's automatic retry finds a slot soon.
const retryAfterSeconds = "5"

// maxLastEventIDLength bounds the Last-Event-ID accepted; longer ones are
// treated as unknown (resync).
const maxLastEventIDLength = 256

// ParseTopics returns the topics of a subscription request: every topic=
// parameter, each split on commas, blanks trimmed, repeats removed. It checks
// the count against max and each name with ValidateTopic.
func ParseTopics(r *http.Request, max int) ([]string, error) {
	var topics []string
	for _, v := range r.URL.Query()["topic"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
	}
	topics = dedupe(topics)
	if len(topics) == 0 {
		return nil, fmt.Errorf("%w: pass ?topic=name (several: ?topic=a,b or repeated topic=)", ErrNoTopic)
	}
	if max > 0 && len(topics) > max {
		return nil, fmt.Errorf("%w: %d topics requested, the limit is %d per connection", ErrTooManyTopics, len(topics), max)
	}
	for _, t := range topics {
		if err := ValidateTopic(t); err != nil {
			return nil, err
		}
	}
	return topics, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSONError(w, http.StatusMethodNotAllowed, "ssevents: use GET to subscribe")
		return
	}
	if h.ctx.Err() != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "ssevents: server is shutting down")
		return
	}
	topics, err := ParseTopics(r, h.cfg.MaxTopicsPerConnection)
	if err != nil {
		h.metrics.rejectedBad.Add(1)
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	if n := h.conns.Add(1); n > int64(h.cfg.MaxConnections) {
		h.conns.Add(-1)
		h.metrics.rejectedFull.Add(1)
		w.Header().Set("Retry-After", retryAfterSeconds)
		WriteError(w, r, h.cfg.Logger, fmt.Errorf("%w: this instance serves %d streams, its limit; retry later", ErrTooManyConnections, h.cfg.MaxConnections))
		return
	}
	defer h.conns.Add(-1)
	if err := h.authorize(r, topics); err != nil {
		if HTTPStatus(err) != http.StatusInternalServerError {
			h.metrics.rejectedAuth.Add(1)
		}
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	h.wg.Add(1)
	defer h.wg.Done()
	// The subscription lives as long as the request; Close ends it through
	// h.ctx in the live loop, without a derived context per stream (they
	// cost memory on every one of thousands of idle connections).
	ctx := r.Context()
	sub, err := h.broker.Subscribe(ctx, SubscribeRequest{
		Topics:      topics,
		LastEventID: lastEventID(r),
		QueueSize:   h.cfg.MaxQueueSize,
		OnDrop:      func(n int) { h.metrics.dropped.Add(int64(n)) },
	})
	if err != nil {
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	defer sub.Close()
	h.metrics.connsTotal.Add(1)
	h.metrics.connsCurrent.Add(1)
	defer h.metrics.connsCurrent.Add(-1)

	s := stream{h: h, w: w, rc: http.NewResponseController(w)}
	// A stream outlives any http.Server.ReadTimeout, which would otherwise
	// cancel the request's context midway; client departure is still seen.
	_ = s.rc.SetReadDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.buf = wire.AppendRetry(s.buf, h.cfg.Retry)
	if err := s.flush(); err != nil {
		return
	}
	err = s.backlog(sub.Backlog())
	if err == nil {
		err = s.live(ctx, sub)
	}
	if errors.Is(err, ErrSlowConsumer) || errors.Is(err, os.ErrDeadlineExceeded) {
		// Its queue overflowed, or one write took longer than WriteTimeout.
		h.metrics.slowConsumers.Add(1)
		h.cfg.Logger.WarnContext(r.Context(), "slow subscriber disconnected", "topics", topics, "remote", r.RemoteAddr)
	}
}

// authorize asks Config.Authorize about each topic.
func (h *Handler) authorize(r *http.Request, topics []string) error {
	if h.cfg.Authorize == nil {
		return nil
	}
	for _, t := range topics {
		ok, err := h.cfg.Authorize(r, t)
		if err != nil {
			if st := HTTPStatus(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
				return err // the authorizer's own verdict, e.g. ErrUnauthorized for a missing token
			}
			return fmt.Errorf("ssevents: authorizer failed for topic %q: %w", t, err)
		}
		if !ok {
			return fmt.Errorf("%w: not allowed to subscribe to topic %q", ErrForbidden, t)
		}
	}
	return nil
}

// lastEventID returns the id to resume from: the Last-Event-ID header (sent
// by a reconnecting EventSource), else ?lastEventId= (for a first
// connection).
func lastEventID(r *http.Request) string {
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		id = r.URL.Query().Get("lastEventId")
	}
	if len(id) > maxLastEventIDLength || !wire.ValidField(id) {
		return "invalid"
	}
	return strings.TrimSpace(id)
}

// stream writes one SSE response.
type stream struct {
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController
	buf   []byte
	batch []Event
	last  time.Time // of the last write, for heartbeats
}

// flush writes buf in one write, under a deadline, then flushes it.
func (s *stream) flush() error {
	if s.h.cfg.WriteTimeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout)) // unsupported by some writers; then there is no deadline
	}
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.rc.Flush()
	}
	s.buf = s.buf[:0]
	if cap(s.buf) > 64<<10 {
		s.buf = nil // after a large batch, give the memory back
	}
	s.last = time.Now()
	return err
}

// resyncData is the data of a resync event.
type resyncData struct {
	Topics []string `json:"topics"`
}

func (s *stream) backlog(b Backlog) error {
	if len(b.Resync) > 0 {
		s.h.metrics.resyncs.Add(1)
		data, _ := json.Marshal(resyncData{Topics: b.Resync})
		s.buf = wire.AppendEvent(s.buf, b.Cursor, EventResync, data)
	}
	// Written in batches so that a long backlog is not one huge buffer.
	const batchBytes = 32 << 10
	for i, ev := range b.Events {
		s.buf = wire.AppendEvent(s.buf, ev.ID, ev.Name, ev.Data)
		if len(s.buf) >= batchBytes || i == len(b.Events)-1 {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	s.h.metrics.replayed.Add(int64(len(b.Events)))
	if len(s.buf) > 0 {
		return s.flush()
	}
	return nil
}

func (s *stream) live(ctx context.Context, sub Subscription) error {
	hb := time.NewTicker(s.h.cfg.HeartbeatInterval)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.h.ctx.Done():
			return nil
		case <-sub.Notify():
			var err error
			s.batch, err = sub.Drain(s.batch[:0])
			if len(s.batch) > 0 {
				for _, ev := range s.batch {
					s.buf = wire.AppendEvent(s.buf, ev.ID, ev.Name, ev.Data)
				}
				if werr := s.flush(); werr != nil {
					return werr
				}
				s.h.metrics.observeDelivered(s.batch, s.last)
				clear(s.batch)
				if cap(s.batch) > 64 {
					s.batch = nil
				}
			}
			if err != nil {
				return err
			}
		case now := <-hb.C:
			// Only an idle stream needs a heartbeat; allow for ticker jitter.
			if now.Sub(s.last) < s.h.cfg.HeartbeatInterval*9/10 {
				continue
			}
			if s.h.cfg.HeartbeatEvent {
				s.buf = appendHeartbeatEvent(s.buf, now)
			} else {
				s.buf = wire.AppendComment(s.buf, "heartbeat")
			}
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
}

func appendHeartbeatEvent(dst []byte, now time.Time) []byte {
	data := make([]byte, 0, 48)
	data = append(data, `{"time":"`...)
	data = now.UTC().AppendFormat(data, time.RFC3339)
	data = append(data, `"}`...)
	return wire.AppendEvent(dst, "", EventHeartbeat, data)
}
