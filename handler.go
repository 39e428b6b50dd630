package ssevents

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/heartbeat"
	"github.com/ssevents/ssevents/internal/poller"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
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
	cfg      Config
	broker   sse.Broker
	metrics  *Metrics
	presence *presence // nil: presence off (set by the App)

	conns   atomic.Int64 // open streams, and slots taken by streams about to open
	pending atomic.Int64 // requests waiting for Config.Authorize

	ctx    context.Context // ended by Close: every stream returns
	cancel context.CancelFunc
	wg     sync.WaitGroup

	beatsOnce sync.Once
	beats     *heartbeat.Scheduler // every stream's heartbeats; started by the first stream

	pollOnce sync.Once
	poll     atomic.Pointer[poller.Poller] // serves taken-over streams; started by the first, nil when unavailable
}

// NewHandler returns a handler that streams from b. Zero fields of cfg take
// their defaults; m may be nil.
func NewHandler(cfg Config, b sse.Broker, m *Metrics) *Handler {
	if m == nil {
		m = NewMetrics()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{cfg: cfg.withDefaults(), broker: b, metrics: m, ctx: ctx, cancel: cancel}
}

// Connections returns the number of open streams.
func (h *Handler) Connections() int { return int(h.conns.Load()) }

// PendingAuthorizations returns the number of subscribe requests waiting
// for Config.Authorize to answer.
func (h *Handler) PendingAuthorizations() int { return int(h.pending.Load()) }

// Close ends every open stream cleanly and waits for their handlers to
// return. Later requests are answered 503. It returns the error of
// closing the poller, if one was started.
func (h *Handler) Close() error {
	h.cancel()
	if p := h.poll.Load(); p != nil {
		p.WakeAll() // each sees h.ctx done, writes what is queued and ends
	}
	h.wg.Wait()
	h.pollOnce.Do(func() {}) // none is started after this
	if p := h.poll.Load(); p != nil {
		return p.Close()
	}
	return nil
}

// retryAfterSeconds is the Retry-After sent with a 503 for the connection
// limit or the pending-authorization limit: long enough for load to move elsewhere, short enough that a
// browser's automatic retry finds a slot soon.
const retryAfterSeconds = "5"

// maxLastEventIDLength bounds the Last-Event-ID accepted; longer ones are
// treated as unknown (resync).
const maxLastEventIDLength = 256

// maxQueryOverhead is the room a subscribe query has beyond its topics:
// lastEventId (up to maxLastEventIDLength bytes, percent-encoded), a hub's
// access_token (a JWT of a few KB) and a cache-busting parameter or two.
const maxQueryOverhead = 16 << 10

// maxQueryBytes is the longest subscribe query accepted with max topics per
// connection: max topics of MaxTopicLength bytes, every byte
// percent-encoded (3 bytes) and each followed by a comma, plus
// maxQueryOverhead. At the default 32 topics that is about 35 KB: a
// longer query is refused before any of it is decoded.
func maxQueryBytes(max int) int { return max*3*(sse.MaxTopicLength+1) + maxQueryOverhead }

// parseTopics returns the topics of a subscription request: every topic=
// parameter, each split on commas, blanks trimmed, repeats removed, in the
// order given. Its cost is bounded before anything is decoded: a query
// longer than maxQueryBytes(max) is refused at once, and splitting stops
// at the first topic past max distinct ones, so a request naming 100,000
// topics costs no more than one naming max+1. Each topic is checked with
// sse.ValidateTopic as it is found. Every error answers 400.
func parseTopics(r *http.Request, max int) ([]string, error) {
	if max <= 0 {
		max = DefaultMaxTopicsPerConnection
	}
	q := r.URL.RawQuery
	if limit := maxQueryBytes(max); len(q) > limit {
		return nil, fmt.Errorf("%w: the query is %d bytes, the limit is %d bytes (room for %d topics per connection, the limit, of up to %d bytes each)",
			sse.ErrInvalidRequest, len(q), limit, max, sse.MaxTopicLength)
	}
	var ts topicSet
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if strings.Contains(pair, ";") {
			continue // url.ParseQuery skips it too: r.URL.Query() agrees
		}
		key, value, _ := strings.Cut(pair, "=")
		if !isTopicKey(key) {
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("%w: a topic parameter is not valid URL encoding", sse.ErrInvalidTopic)
		}
		if err := ts.addList(v, max); err != nil {
			return nil, err
		}
	}
	if len(ts.list) == 0 {
		return nil, fmt.Errorf("%w: pass ?topic=name (several: ?topic=a,b or repeated topic=)", sse.ErrNoTopic)
	}
	return ts.list, nil
}

// isTopicKey reports whether a raw query key is "topic", decoding it only
// when it holds an escape.
func isTopicKey(key string) bool {
	if key == "topic" || !strings.ContainsAny(key, "%+") {
		return key == "topic"
	}
	k, err := url.QueryUnescape(key)
	return err == nil && k == "topic"
}

// topicSet collects distinct topics in first-seen order in linear time:
// a slice for the first few (where a scan beats hashing), a map past them.
type topicSet struct {
	list []string
	seen map[string]struct{}
}

// smallTopicSet is the count up to which topicSet scans its slice.
const smallTopicSet = 8

// addList adds the comma-separated topics of v, skipping blanks and
// repeats; the first topic past max distinct ones is ErrTooManyTopics,
// found without reading the rest of v.
func (s *topicSet) addList(v string, max int) error {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if t = strings.TrimSpace(t); t == "" || s.has(t) {
			continue
		}
		if len(s.list) == max {
			return fmt.Errorf("%w: more than %d topics requested, the limit is %d per connection", sse.ErrTooManyTopics, max, max)
		}
		if err := sse.ValidateTopic(t); err != nil {
			return err
		}
		s.list = append(s.list, t)
		if s.seen != nil {
			s.seen[t] = struct{}{}
		} else if len(s.list) > smallTopicSet {
			s.seen = make(map[string]struct{}, 2*smallTopicSet)
			for _, u := range s.list {
				s.seen[u] = struct{}{}
			}
		}
	}
	return nil
}

// has reports whether t was added.
func (s *topicSet) has(t string) bool {
	if s.seen == nil {
		return slices.Contains(s.list, t)
	}
	_, ok := s.seen[t]
	return ok
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
	topics, err := parseTopics(r, h.cfg.MaxTopicsPerConnection)
	if err != nil {
		h.metrics.rejectedBad.Add(1)
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	var ident *presenceIdent
	if h.presence != nil {
		ident = &presenceIdent{}
		r = r.WithContext(context.WithValue(r.Context(), presenceKey{}, ident))
	}
	expires, err := h.admit(w, r, topics)
	if err != nil {
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	// The subscription ends when the stream does (sub.Close), whichever
	// path serves it: a hijacked stream outlives the request, and keeps
	// none of its context (which holds the connection's addresses and
	// contexts: memory an idle stream need not keep).
	var started atomic.Pointer[stream]
	sub, err := h.broker.Subscribe(context.Background(), sse.SubscribeRequest{
		Topics:      topics,
		LastEventID: lastEventID(r),
		QueueSize:   h.cfg.MaxQueueSize,
		QueueBytes:  h.cfg.MaxQueueBytes,
		OnDrop: func(n int) {
			h.metrics.dropped.Add(int64(n))
			if s := started.Load(); s != nil && s.paced != nil {
				s.interruptSlow()
			}
		},
	})
	var pres *presenceRef
	if err == nil && h.presence != nil {
		inner := sub
		if sub, pres, err = h.presence.attach(r, sub, topics, ident); err != nil {
			_ = inner.Close()
		}
	}
	if err != nil {
		h.conns.Add(-1)
		WriteError(w, r, h.cfg.Logger, err)
		return
	}
	h.wg.Add(1)
	h.metrics.connsTotal.Add(1)
	h.metrics.connsCurrent.Add(1)
	s := &stream{h: h, sub: sub, topics: topics, topicLines: topicLines(topics), remote: r.RemoteAddr, expires: expires, pres: pres}
	if u, ok := sub.(sse.Unaccepting); ok {
		// From now on the queue judges the client by what it has not
		// accepted, the backlog's writes included.
		s.paced = u
		u.SetUnaccepted(0)
	}
	started.Store(s)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	if s.hijack(w, r) {
		s.serveHijacked()
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s.cancel = cancel
	rc := http.NewResponseController(w)
	// A stream outlives any http.Server.ReadTimeout, which would otherwise
	// cancel the request's context midway; client departure is still seen.
	_ = rc.SetReadDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	s.out, s.setDeadline, s.flusher = w, rc.SetWriteDeadline, rc.Flush
	s.interrupt.Store(&s.setDeadline) // never changes on this path
	s.run(ctx)
}

// admit takes a connection slot for an authorized request, or returns the
// error to answer (counted in the metrics). A request is authorized first,
// holding one of Config.MaxPendingAuth places while Config.Authorize runs,
// and takes its slot only once allowed: requests stuck in a slow
// authorizer (a hanging webhook) cannot fill the instance and lock out
// subscribers whose topics are allowed at once. An instance already full
// answers 503 without asking the authorizer. On success the caller holds
// the slot and must give it back (h.conns.Add(-1)) if no stream starts;
// expires is when the authorizer said the stream must end (see
// ExpireStreamAt), zero for never.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, topics []string) (expires time.Time, err error) {
	full := func() error {
		h.metrics.rejectedFull.Add(1)
		w.Header().Set("Retry-After", retryAfterSeconds)
		return fmt.Errorf("%w: this instance serves %d streams, its limit; retry later", sse.ErrTooManyConnections, h.cfg.MaxConnections)
	}
	if h.conns.Load() >= int64(h.cfg.MaxConnections) {
		return time.Time{}, full()
	}
	if expires, err = h.authorizePending(w, r, topics); err != nil {
		return time.Time{}, err
	}
	if n := h.conns.Add(1); n > int64(h.cfg.MaxConnections) {
		h.conns.Add(-1)
		return time.Time{}, full()
	}
	return expires, nil
}

// authorizePending asks Config.Authorize about topics while holding one of
// Config.MaxPendingAuth places; past them it answers 503 with Retry-After
// at once. It counts refusals in the metrics.
func (h *Handler) authorizePending(w http.ResponseWriter, r *http.Request, topics []string) (time.Time, error) {
	if h.cfg.Authorize == nil {
		return time.Time{}, nil
	}
	if n := h.pending.Add(1); n > int64(h.cfg.MaxPendingAuth) {
		h.pending.Add(-1)
		h.metrics.rejectedPending.Add(1)
		w.Header().Set("Retry-After", retryAfterSeconds)
		return time.Time{}, fmt.Errorf("%w: %d subscriptions are already waiting for authorization, the limit (MaxPendingAuth, SSE_MAX_PENDING_AUTH); retry later",
			sse.ErrTooManyConnections, h.cfg.MaxPendingAuth)
	}
	h.metrics.pendingAuth.Add(1)
	defer func() { // deferred: an authorizer's panic must not keep its place
		h.pending.Add(-1)
		h.metrics.pendingAuth.Add(-1)
	}()
	expires, err := h.authorize(w, r, topics)
	if err != nil && sse.HTTPStatus(err) != http.StatusInternalServerError {
		h.metrics.rejectedAuth.Add(1)
	}
	return expires, err
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
