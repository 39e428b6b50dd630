package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// errStopIteration ends the subscription behind Events when the loop body
// breaks out.
var errStopIteration = errors.New("ssevents: iteration stopped")

// handlerError carries the error of a Subscribe callback out of the stream.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// Subscribe receives the events of topics and calls handle for each, on
// the calling goroutine, until ctx is done, handle returns an error, or the
// server refuses the subscription in a way retrying cannot fix.
//
// It reconnects whenever the stream ends, sending the last event id
// received, after a delay of the server's `retry:` value plus a random
// share (full jitter) of a ceiling that starts at Config.BackoffInitial and
// doubles after each failed attempt up to Config.BackoffMax.
//
// It returns ctx.Err() when ctx is done, handle's error when handle fails,
// or the refusal: a *StatusError (status 4xx other than 408 and 429, or
// 204), ErrNotEventStream, or a parser limit error.
func (c *Client) Subscribe(ctx context.Context, topics []string, handle func(Event) error, opts ...SubscribeOption) error {
	if len(topics) == 0 {
		return ErrNoTopic
	}
	if handle == nil {
		return fmt.Errorf("%w: Subscribe needs a handle function", sse.ErrInvalidConfig)
	}
	u := *c.eventsURL
	u.RawQuery = url.Values{"topic": {strings.Join(topics, ",")}}.Encode()
	s := &subscription{c: c, url: u.String(), topics: topics, handle: handle}
	if len(topics) == 1 {
		s.topic = topics[0]
	}
	for _, o := range opts {
		o(s)
	}
	if s.presence {
		s.url += "&presence=true"
	}
	return s.run(ctx)
}

// Events is Subscribe as an iterator: it yields each event with a nil
// error. When the subscription ends for any reason other than the loop
// breaking out (ctx done, a refusal), it yields the error once, with a zero
// Event, and stops.
func (c *Client) Events(ctx context.Context, topics []string, opts ...SubscribeOption) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		stopped := false
		err := c.Subscribe(ctx, topics, func(ev Event) error {
			if !yield(ev, nil) {
				stopped = true
				return errStopIteration
			}
			return nil
		}, opts...)
		if !stopped && err != nil {
			yield(Event{}, err)
		}
	}
}

// subscription is the state of one Subscribe call.
type subscription struct {
	c       *Client
	url     string
	topics  []string
	topic   string // the only topic, or ""
	handle  func(Event) error
	onState func(ConnState)

	heartbeats bool // deliver named heartbeat events
	presence   bool // ask for presence events (?presence=true)

	lastID string        // sent as Last-Event-ID
	retry  time.Duration // the server's last `retry:` value
}

func (s *subscription) run(ctx context.Context) error {
	attempt := 0
	for {
		healthy, err := s.connect(ctx, attempt)
		if ctx.Err() != nil {
			s.state(ConnState{Attempt: attempt, Err: ctx.Err()})
			return ctx.Err()
		}
		var he *handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if healthy {
			attempt = 0
		}
		if errors.Is(err, errTokenExpired) {
			s.state(ConnState{Attempt: attempt, Err: err})
			if s.c.cfg.TokenFunc == nil {
				return fmt.Errorf("%w: the server ended the stream", ErrTokenExpired)
			}
			continue // at once: a fresh token is not a failure to back off from
		}
		if permanent(err) {
			s.state(ConnState{Attempt: attempt, Err: err})
			return err
		}
		delay := s.delay(attempt)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > delay {
			delay = se.RetryAfter
		}
		s.state(ConnState{Attempt: attempt, Err: err, RetryIn: delay})
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		attempt++
	}
}

// delay returns the wait before the reconnection that follows attempt
// failed attempts in a row: the server's retry plus a uniform random
// duration up to min(BackoffMax, BackoffInitial * 2^attempt).
func (s *subscription) delay(attempt int) time.Duration {
	ceiling := s.c.cfg.BackoffMax
	if attempt < 32 {
		if d := s.c.cfg.BackoffInitial << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return s.retry + rand.N(ceiling+1)
}

// permanent reports whether err ends a subscription instead of causing a
// reconnection.
func permanent(err error) bool {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return !se.Temporary()
	case errors.Is(err, ErrNotEventStream), errors.Is(err, wire.ErrEventTooLarge),
		errors.Is(err, wire.ErrLineTooLong), errors.Is(err, errBadRequest):
		return true
	}
	return false
}

// errStreamEnded reports a stream the server closed cleanly (a restart, a
// deploy); the subscription reconnects.
var errStreamEnded = fmt.Errorf("ssevents: the server ended the stream: %w", io.EOF)

// errTokenExpired ends a connection whose token expired (the server's
// token_expired event).
var errTokenExpired = fmt.Errorf("ssevents: the stream's token expired: %w", ErrTokenExpired)

// errBadRequest marks errors in making the request itself (a failing
// TokenFunc), which retrying does not fix.
var errBadRequest = errors.New("ssevents: cannot make the subscription request")

func (s *subscription) state(cs ConnState) {
	if s.onState != nil {
		s.onState(cs)
	}
}

// connect makes one connection and reads its stream until it ends. healthy
// reports that the connection delivered an event or lasted at least
// BackoffMax, so that the backoff starts over.
func (s *subscription) connect(ctx context.Context, attempt int) (healthy bool, err error) {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.url, nil)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	if err := s.c.setHeaders(req); err != nil {
		return false, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	// cause replaces the error of a request cut by the watchdog with
	// ErrDeadConnection.
	cause := func(err error) error {
		if ctx.Err() == nil && cctx.Err() != nil {
			return context.Cause(cctx)
		}
		return err
	}
	start := time.Now()
	wd := newWatchdog(s.c.cfg.HeartbeatInterval*time.Duration(s.c.cfg.MissedHeartbeats), cancel)
	defer wd.stop()
	wd.waiting()
	resp, err := s.c.hc.Do(req)
	wd.done()
	if err != nil {
		return false, cause(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, readStatusError(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("%w: got %q from %s", ErrNotEventStream, resp.Header.Get("Content-Type"), s.url)
	}
	s.state(ConnState{Connected: true, Attempt: attempt})

	wd.r = resp.Body
	p := wire.NewParser(wd)
	p.MaxEventBytes = s.c.cfg.MaxEventBytes
	defer func() {
		s.update(p)
		healthy = healthy || time.Since(start) >= s.c.cfg.BackoffMax
	}()
	for {
		ev, err := p.Next()
		if errors.Is(err, io.EOF) {
			err = errStreamEnded
		}
		if err != nil {
			return healthy, cause(err)
		}
		s.update(p)
		if ev.Name == sse.EventHeartbeat {
			if s.heartbeats {
				if err := s.handle(Event{Kind: KindHeartbeat, Name: ev.Name, Topic: s.topic, Data: json.RawMessage(ev.Data)}); err != nil {
					return healthy, &handlerError{err}
				}
			}
			continue
		}
		healthy = true
		out := s.event(ev)
		if err := s.handle(out); err != nil {
			return healthy, &handlerError{err}
		}
		if out.Kind == KindTokenExpired {
			return healthy, errTokenExpired // the server closes the stream
		}
	}
}

// event converts a parsed event, decoding the server's notices (resync,
// token_expired). Its topic is the one the server named in the event's
// topic field (on a stream of several topics), else the only topic.
func (s *subscription) event(ev wire.Event) Event {
	out := Event{ID: ev.ID, Name: ev.Name, Topic: s.topic, Data: json.RawMessage(ev.Data)}
	if ev.Topic != "" {
		out.Topic = ev.Topic
	}
	switch ev.Name {
	case sse.EventTokenExpired:
		out.Kind = KindTokenExpired
		var body struct {
			Exp int64 `json:"exp"`
		}
		if json.Unmarshal(out.Data, &body) == nil {
			out.Exp = time.Unix(body.Exp, 0)
		}
	case sse.EventPresence, sse.EventJoin, sse.EventLeave:
		presenceEvent(&out)
	case sse.EventResync:
		out.Kind = KindResync
		var body struct {
			Topics []string `json:"topics"`
			sse.Resync
		}
		if json.Unmarshal(out.Data, &body) == nil {
			out.Topics = body.Topics
			if body.Reason != "" {
				out.Resync = &body.Resync
				if out.Topics == nil && body.Topic != "" {
					out.Topics = []string{body.Topic}
				}
			}
		}
		if out.Topics == nil {
			out.Topics = append([]string(nil), s.topics...)
		}
	}
	return out
}

// update takes the last event id and retry delay the parser has seen.
// An empty id does not replace a known one: a new connection that has not
// sent any id yet must not forget where to resume.
func (s *subscription) update(p *wire.Parser) {
	if id := p.LastEventID(); id != "" {
		s.lastID = id
	}
	if r := p.Retry(); r > 0 {
		s.retry = r
	}
}
