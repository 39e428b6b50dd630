package ssevents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Authorizer decides whether a request may subscribe to its topics. It is
// Config.Authorize.
//
// The Handler calls it once per subscribe request, with every topic of the
// request: after the topics are parsed, validated and de-duplicated (in the
// order the client gave them), holding one of Config.MaxPendingAuth places
// and before a connection slot is taken. It may be called from many goroutines at once, so
// it must be safe for concurrent use; it must not modify topics.
//
// Its answer:
//
//   - nil allows every topic;
//   - an error wrapping sse.ErrUnauthorized answers 401 with the error's
//     message (the request has no valid credentials; WithChallenge adds a
//     WWW-Authenticate header);
//   - an error wrapping sse.ErrForbidden answers 403 with the error's
//     message, which should name the denied topic: Forbidden(topic) does;
//   - an error made by Unavailable answers 503 with Retry-After and the
//     error's message (the Authorizer cannot decide now; the client should
//     retry);
//   - any other error answers 500: it is logged, and the client sees only
//     "internal error".
//
// An Authorizer whose credentials expire (a token's exp, a session's end)
// calls ExpireStreamAt(r, t) before it returns nil: the stream it allowed
// then ends at t, with a final `token_expired` event, so that the client
// reconnects with fresh credentials and is asked again.
//
// AuthorizeEachTopic makes an Authorizer of a rule about one topic.
type Authorizer func(r *http.Request, topics []string) error

// AuthorizeEachTopic returns an Authorizer that asks allow about each topic
// in order and stops at the first denial: false answers 403 naming the
// topic (Forbidden), an error wrapping sse.ErrUnauthorized or
// sse.ErrForbidden is returned as is, and any other error answers 500. It
// is the shape of fastapi-sse-events' authorize(request, topic) -> bool, so
// that a one-line rule stays one line. allow must be safe for concurrent
// use.
func AuthorizeEachTopic(allow func(r *http.Request, topic string) (bool, error)) Authorizer {
	return func(r *http.Request, topics []string) error {
		for _, t := range topics {
			ok, err := allow(r, t)
			if err != nil {
				if errors.Is(err, sse.ErrUnauthorized) || errors.Is(err, sse.ErrForbidden) {
					return err // the rule's own verdict, e.g. a missing login
				}
				return fmt.Errorf("ssevents: authorizer failed for topic %q: %w", t, err)
			}
			if !ok {
				return Forbidden(t)
			}
		}
		return nil
	}
}

// DeniedError is an Authorizer's denial of one topic. It answers 403:
// errors.Is(err, sse.ErrForbidden) is true, and its message names Topic.
type DeniedError struct {
	// Topic is the first topic of the request that was denied.
	Topic string
}

// Forbidden returns the error an Authorizer returns to deny topic: a
// *DeniedError, answered 403 with `ssevents: forbidden: not allowed to
// subscribe to topic "<topic>"`.
func Forbidden(topic string) error { return &DeniedError{Topic: topic} }

// Error says which topic was denied.
func (e *DeniedError) Error() string {
	return fmt.Sprintf("%v: not allowed to subscribe to topic %q", sse.ErrForbidden, e.Topic)
}

// Is reports whether target is sse.ErrForbidden.
func (e *DeniedError) Is(target error) bool { return target == sse.ErrForbidden }

// WithChallenge returns err (which should wrap sse.ErrUnauthorized) so that
// the Handler's 401 carries challenge as its WWW-Authenticate header, e.g.
// `Bearer realm="app"`, telling the client how to authenticate.
// errors.Is and errors.As see through it to err.
func WithChallenge(err error, challenge string) error {
	if err == nil {
		return nil
	}
	return &challengeError{err: err, challenge: challenge}
}

// challengeError is an error with a WWW-Authenticate challenge.
type challengeError struct {
	err       error
	challenge string
}

func (e *challengeError) Error() string { return e.err.Error() }
func (e *challengeError) Unwrap() error { return e.err }

// expiryKey is the context key of the request's *streamExpiry.
type expiryKey struct{}

// streamExpiry is where ExpireStreamAt records, for the Handler, when the
// stream being authorized must end. Safe for concurrent use (an Authorizer
// may ask several services at once).
type streamExpiry struct {
	mu sync.Mutex
	at time.Time // zero: never
}

// ExpireStreamAt records that the credentials an Authorizer accepted for r
// stop being valid at t, so that the stream it allows ends at t: the
// Handler then sends the event sse.EventTokenExpired, with data
// {"exp": <t in unix seconds>}, and closes the stream. Called several
// times, the earliest t wins; a t already past ends the stream right after
// it opens. It does nothing when r is not a request the Handler is
// authorizing (an Authorizer called from a test, say).
func ExpireStreamAt(r *http.Request, t time.Time) {
	e, ok := r.Context().Value(expiryKey{}).(*streamExpiry)
	if !ok || t.IsZero() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.at.IsZero() || t.Before(e.at) {
		e.at = t
	}
}

// authorize asks Config.Authorize about topics, once. It returns when the
// stream must end (zero: never; see ExpireStreamAt) and nil, or an error
// answered 401, 403 or 503 (Unavailable), or one answered 500 that hides
// the authorizer's detail from the client (WriteError logs it).
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, topics []string) (time.Time, error) {
	if h.cfg.Authorize == nil {
		return time.Time{}, nil
	}
	exp := &streamExpiry{}
	err := h.cfg.Authorize(r.WithContext(context.WithValue(r.Context(), expiryKey{}, exp)), topics)
	switch status := sse.HTTPStatus(err); status {
	case http.StatusOK:
		exp.mu.Lock()
		defer exp.mu.Unlock()
		return exp.at, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		var c *challengeError
		if status == http.StatusUnauthorized && errors.As(err, &c) && c.challenge != "" {
			w.Header().Set("WWW-Authenticate", c.challenge)
		}
		return time.Time{}, err
	case http.StatusServiceUnavailable:
		var u *unavailableError
		if errors.As(err, &u) {
			w.Header().Set("Retry-After", retryAfterSeconds)
			return time.Time{}, err
		}
	}
	// Not a verdict (perhaps an error that would map to another status,
	// such as a broker's): a failure of the authorizer, answered 500.
	return time.Time{}, fmt.Errorf("ssevents: authorizer failed: %v", err)
}
