package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// maxErrorBody bounds how much of an error answer is read: a JSON error
// message is a line; more is not worth holding.
const maxErrorBody = 16 << 10

// errPublishRequest marks errors in making a publish request itself (a
// failing TokenFunc), which retrying does not fix.
var errPublishRequest = errors.New("ssevents: cannot make the publish request")

// Message is one event to publish with PublishMessage.
type Message struct {
	// Topics to publish on (at least one); a subscriber of several
	// receives the event once.
	Topics []string
	// Event is the event name.
	Event string
	// Data is marshalled to JSON, except a json.RawMessage, which is sent
	// as it is.
	Data any
	// IdempotencyKey is sent as the Idempotency-Key header of every
	// attempt. Empty: a random key of 26 characters is generated (see
	// NewIdempotencyKey).
	IdempotencyKey string
	// OnAttempt, when set, is called after each attempt (on the calling
	// goroutine) with its timing and outcome, for callers that audit
	// retries.
	OnAttempt func(PublishAttempt)
}

// PublishAttempt is the outcome of one request of a publish, reported to
// Message.OnAttempt.
type PublishAttempt struct {
	// Key is the idempotency key the request carried.
	Key string
	// N numbers the attempts of one publish from 1.
	N int
	// Start and End bracket the request.
	Start, End time.Time
	// ID is the event id the hub answered, when Err is nil.
	ID string
	// Err is the attempt's error: a *StatusError for an error answer,
	// another error for a request that got no (complete) answer.
	Err error
}

// NewIdempotencyKey returns a random idempotency key: 26 characters of
// base32 from crypto/rand (130 bits).
func NewIdempotencyKey() string { return rand.Text() }

// Publish publishes event with data on topic through the hub's publish API
// and returns the event's id. data is marshalled to JSON, except a
// json.RawMessage, which is sent as it is. An error answer is a
// *StatusError carrying the HTTP status and the server's message.
//
// Every call carries a generated Idempotency-Key, and retries as
// PublishMessage does.
func (c *Client) Publish(ctx context.Context, topic, event string, data any) (string, error) {
	return c.PublishMessage(ctx, Message{Topics: []string{topic}, Event: event, Data: data})
}

// PublishTopics publishes one event on several topics; a subscriber of more
// than one of them receives it once. It retries as PublishMessage does.
func (c *Client) PublishTopics(ctx context.Context, topics []string, event string, data any) (string, error) {
	return c.PublishMessage(ctx, Message{Topics: topics, Event: event, Data: data})
}

// PublishMessage publishes m and returns the event's id.
//
// Each request carries m.IdempotencyKey (or a generated key) as the
// Idempotency-Key header, so that the same request can be sent again
// without publishing twice: it is retried, with the same key, after a 503
// answer (not published), a 504 (the hub lost Redis's answer, or a proxy
// gave up on the hub: it may or may not have published), a 502, a 409 (a
// request with the key, such as an earlier attempt, is still in flight),
// or a request that got no answer (connection refused or reset, which a
// restarting hub causes), up to Config.PublishRetries times. The delay
// before retry n is a random share (full jitter) of
// min(BackoffMax, BackoffInitial x 2^(n-1)), and at least the answer's
// Retry-After. Other error answers (400, 401, 403, 413, ...) are returned
// at once as a *StatusError; the last error is returned when the retries
// or ctx run out. A key reused for another request is answered 422: the
// *StatusError then matches sse.ErrIdempotencyKeyReused with errors.Is,
// and errors.As finds an *sse.IdempotencyKeyError naming the key (as it
// does for sse.ErrIdempotencyKeyInFlight once the retries run out). A last
// error that matches sse.ErrOutcomeUnknown (504), or that got no answer,
// leaves the event maybe published: publish it again later with the same
// key to settle it.
func (c *Client) PublishMessage(ctx context.Context, m Message) (string, error) {
	if len(m.Topics) == 0 {
		return "", ErrNoTopic
	}
	key := m.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	} else if err := sse.ValidateIdempotencyKey(key); err != nil {
		return "", err
	}
	body, err := publishBody(m)
	if err != nil {
		return "", err
	}
	for n := 1; ; n++ {
		start := time.Now()
		id, err := c.publishOnce(ctx, key, body)
		if m.OnAttempt != nil {
			m.OnAttempt(PublishAttempt{Key: key, N: n, Start: start, End: time.Now(), ID: id, Err: err})
		}
		if err == nil || n > c.cfg.PublishRetries || !retryablePublish(ctx, err) {
			return id, err
		}
		delay := c.publishDelay(n)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > delay {
			delay = se.RetryAfter
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%w; not retried: %w", err, ctx.Err())
		case <-t.C:
		}
	}
}

// publishBody validates m and encodes the JSON body of its request.
func publishBody(m Message) ([]byte, error) {
	raw, ok := m.Data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(m.Data); err != nil {
			return nil, fmt.Errorf("%w: %w", sse.ErrInvalidData, err)
		}
	}
	if !json.Valid(raw) {
		return nil, sse.ErrInvalidData
	}
	body := sse.PublishRequest{Event: m.Event, Data: raw}
	if len(m.Topics) == 1 {
		body.Topic = m.Topics[0]
	} else {
		body.Topics = m.Topics
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sse.ErrInvalidData, err)
	}
	return b, nil
}

// retryablePublish reports whether a publish that failed with err may be
// sent again with the same key: after a 502, 503 or 504 (the hub, or the
// proxy in front of it, could not answer), a 409 for the key in flight
// (an earlier attempt, given up on, may still be running: a later retry
// gets its outcome), or after a request that got no complete answer while
// ctx is still live.
func retryablePublish(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, errPublishRequest) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return errors.Is(err, sse.ErrIdempotencyKeyInFlight)
	}
	return true
}

// publishDelay is the wait before retry n (from 1) of a publish.
func (c *Client) publishDelay(n int) time.Duration {
	ceiling := c.cfg.BackoffMax
	if n <= 32 {
		if d := c.cfg.BackoffInitial << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return mrand.N(ceiling + 1)
}

// publishOnce sends one publish request with key and returns the id the
// hub answered.
func (c *Client) publishOnce(ctx context.Context, key string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.publishURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %w", errPublishRequest, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if err := c.setHeaders(req); err != nil {
		return "", fmt.Errorf("%w: %w", errPublishRequest, err)
	}
	req.Header.Set(sse.IdempotencyKeyHeader, key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("ssevents: %w", err) // Post "<url>": dial tcp ...
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", readStatusError(resp)
	}
	var out sse.PublishResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&out); err != nil {
		return "", fmt.Errorf("ssevents: reading the answer to the publish: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // let the connection be reused
	return out.ID, nil
}

// readStatusError turns an error answer into a *StatusError, taking the
// message from a JSON {"error": "..."} body or from the body's first line.
func readStatusError(resp *http.Response) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body sse.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message, e.IdempotencyKey = body.Error, body.IdempotencyKey
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	e.Message = strings.TrimSpace(line)
	return e
}
