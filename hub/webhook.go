package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// The webhook protocol is described in the package documentation.

// webhookRequest is the body the hub sends to the webhook.
type webhookRequest struct {
	Topics []string `json:"topics"`
}

// webhookAnswer is what the webhook allowed: every requested topic, until
// expires (zero: no end).
type webhookAnswer struct {
	expires time.Time
}

// maxWebhookReply bounds the webhook's answer body that is read: an answer
// is a few dozen bytes; a longer one denies (reason too_large).
const maxWebhookReply = 64 << 10

// maxWebhookCacheEntries bounds the cache: about 100 bytes an entry, so at
// most a few MB however many distinct clients connect.
const maxWebhookCacheEntries = 50_000

// Reasons of sse_webhook_denials_total: why a webhook answer denied.
const (
	denyStatus     = "status"      // a status other than 2xx (401 and 403 included)
	denyNotJSON    = "not_json"    // a 2xx body that is not JSON (an empty one included)
	denyShape      = "shape"       // JSON, but not {"allow": <bool>, ...} with valid topics and expires_in
	denyNotAllowed = "not_allowed" // {"allow": false}
	denyTopics     = "topics"      // "topics" lacks a requested topic
	denyTooLarge   = "too_large"   // a body over maxWebhookReply
	denyTimeout    = "timeout"     // no answer within Config.AuthorizeTimeout
	denyRedirect   = "redirect"    // a 3xx answer (never followed)
	denyError      = "error"       // the call failed otherwise (connection refused, ...)
)

var denyReasons = []string{denyStatus, denyNotJSON, denyShape, denyNotAllowed, denyTopics, denyTooLarge, denyTimeout, denyRedirect, denyError}

type cacheEntry struct {
	answer  webhookAnswer
	err     error // ErrUnauthorized or ErrForbidden
	expires time.Time
}

// webhook asks the application whether a subscriber may have topics.
// Safe for concurrent use.
type webhook struct {
	url     string
	client  *http.Client
	timeout time.Duration
	ttl     time.Duration
	logger  *slog.Logger
	denials *prometheus.CounterVec // by reason

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]cacheEntry
	flights map[[sha256.Size]byte]*flight // calls in progress, shared by identical requests
}

// flight is one webhook call in progress; done is closed when its result
// is set.
type flight struct {
	done   chan struct{}
	answer webhookAnswer
	err    error
}

// newWebhook returns the webhook of cfg. Its client never follows a
// redirect, even when Config.HTTPClient would: the subscriber's credentials
// go to AuthorizeURL only, and a redirect denies.
func newWebhook(cfg Config) *webhook {
	client := *cfg.HTTPClient
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := &webhook{
		url: cfg.AuthorizeURL, client: &client, timeout: cfg.AuthorizeTimeout,
		ttl: cfg.AuthorizeCacheTTL, logger: cfg.Logger,
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sse_webhook_denials_total",
			Help: "Authorization webhook answers that denied a subscription, by reason.",
		}, []string{"reason"}),
		cache:   make(map[[sha256.Size]byte]cacheEntry),
		flights: make(map[[sha256.Size]byte]*flight),
	}
	for _, r := range denyReasons {
		h.denials.WithLabelValues(r) // every reason is exported, from 0
	}
	return h
}

func (h *webhook) close() { h.client.CloseIdleConnections() }

// authorize asks (or remembers) what r's credentials allow among topics.
// Identical requests while a call is in progress wait for its answer
// instead of calling again (a reconnect storm of one user's tabs costs one
// call). A denial is an error wrapping ErrUnauthorized or ErrForbidden.
func (h *webhook) authorize(r *http.Request, topics []string) (webhookAnswer, error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if tok := r.URL.Query().Get(TokenQueryParam); tok != "" {
			authz = "Bearer " + tok
		}
	}
	cookie := r.Header.Get("Cookie")
	key := cacheKey(authz, cookie, topics)
	now := time.Now()
	h.mu.Lock()
	if e, ok := h.cache[key]; ok && h.ttl > 0 && now.Before(e.expires) {
		h.mu.Unlock()
		return e.answer, e.err
	}
	if f, ok := h.flights[key]; ok {
		h.mu.Unlock()
		select {
		case <-f.done:
			return f.answer, f.err
		case <-r.Context().Done():
			return webhookAnswer{}, fmt.Errorf("%w: the request ended while waiting for the authorization service", sse.ErrForbidden)
		}
	}
	f := &flight{done: make(chan struct{})}
	h.flights[key] = f
	h.mu.Unlock()

	answer, cacheable, err := h.call(r, authz, cookie, topics)
	f.answer, f.err = answer, err
	h.mu.Lock()
	delete(h.flights, key)
	if cacheable && h.ttl > 0 {
		until := now.Add(h.ttl)
		if !answer.expires.IsZero() && answer.expires.Before(until) {
			until = answer.expires // never reuse an answer past its expires_in
		}
		h.store(key, cacheEntry{answer: answer, err: err, expires: until}, now)
	}
	h.mu.Unlock()
	close(f.done)
	return answer, err
}

// store caches e; h.mu is held.
func (h *webhook) store(key [sha256.Size]byte, e cacheEntry, now time.Time) {
	if len(h.cache) >= maxWebhookCacheEntries {
		for k, v := range h.cache {
			if !now.Before(v.expires) {
				delete(h.cache, k)
			}
		}
		if len(h.cache) >= maxWebhookCacheEntries {
			clear(h.cache) // all fresh: a flood of distinct clients; start over
		}
	}
	h.cache[key] = e
}

// cacheKey hashes the credentials and topics, so the cache holds no
// credential in clear.
func cacheKey(authz, cookie string, topics []string) [sha256.Size]byte {
	sorted := slices.Clone(topics)
	slices.Sort(sorted)
	hsh := sha256.New()
	for _, s := range append([]string{authz, cookie}, sorted...) {
		_, _ = fmt.Fprintf(hsh, "%d:%s,", len(s), s)
	}
	var k [sha256.Size]byte
	hsh.Sum(k[:0])
	return k
}

// call makes one webhook request; cacheable is false for failures. The
// call is bounded by the timeout, not by r's life: other requests may be
// waiting for its answer.
func (h *webhook) call(r *http.Request, authz, cookie string, topics []string) (webhookAnswer, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	body, _ := json.Marshal(webhookRequest{Topics: topics})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return h.fail(r, denyError, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	setForwardedFor(req, r) // the resolved client, not what the client wrote
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return h.fail(r, denyTimeout, err)
		}
		return h.fail(r, denyError, err)
	}
	defer func() { _ = resp.Body.Close() }()
	// limit+1 bytes: a body cut at the limit is noticed, never taken for
	// a shorter answer.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookReply+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return h.fail(r, denyTimeout, err)
	case err != nil:
		return h.fail(r, denyError, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		h.denials.WithLabelValues(denyStatus).Inc()
		return webhookAnswer{}, true, fmt.Errorf("%w: the application did not recognize the credentials", sse.ErrUnauthorized)
	case code == http.StatusForbidden:
		h.denials.WithLabelValues(denyStatus).Inc()
		return webhookAnswer{}, true, ssevents.Forbidden(topics[0])
	case code >= 300 && code <= 399:
		return h.fail(r, denyRedirect, fmt.Errorf("answered %s (redirects are not followed)", resp.Status))
	case code < 200 || code > 299:
		return h.fail(r, denyStatus, fmt.Errorf("answered %s", resp.Status))
	case len(data) > maxWebhookReply:
		return h.fail(r, denyTooLarge, fmt.Errorf("answer is over %d bytes", maxWebhookReply))
	}
	return h.decide(r, data, topics, start)
}

// webhookReply is a 2xx answer's body, checked by decide.
type webhookReply struct {
	Allow     *bool            `json:"allow"`
	Topics    *[]string        `json:"topics"`
	ExpiresIn *json.RawMessage `json:"expires_in"`
}

// decide reads a 2xx answer's body: only a JSON object whose "allow" is
// true allows, and only when its "topics", if present, lists every one of
// topics. asked is when the call was made, from which expires_in counts.
func (h *webhook) decide(r *http.Request, data []byte, topics []string, asked time.Time) (webhookAnswer, bool, error) {
	if !json.Valid(data) {
		return h.fail(r, denyNotJSON, errors.New("answer is not JSON (an allowing answer is {\"allow\": true})"))
	}
	var reply webhookReply
	if err := json.Unmarshal(data, &reply); err != nil || bytes.TrimSpace(data)[0] != '{' || reply.Allow == nil {
		return h.fail(r, denyShape, errors.New(`answer is not a JSON object with "allow": true or false`))
	}
	var answer webhookAnswer
	if reply.ExpiresIn != nil {
		var secs float64
		if err := json.Unmarshal(*reply.ExpiresIn, &secs); err != nil || secs <= 0 || secs > maxExpiresIn {
			return h.fail(r, denyShape, fmt.Errorf(`"expires_in" is %s, want seconds from 1 to %d`, *reply.ExpiresIn, maxExpiresIn))
		}
		answer.expires = asked.Add(time.Duration(secs * float64(time.Second)))
	}
	if !*reply.Allow {
		h.denials.WithLabelValues(denyNotAllowed).Inc()
		return webhookAnswer{}, true, ssevents.Forbidden(topics[0])
	}
	if reply.Topics != nil {
		for _, t := range topics {
			if !slices.Contains(*reply.Topics, t) {
				h.denials.WithLabelValues(denyTopics).Inc()
				return webhookAnswer{}, true, ssevents.Forbidden(t)
			}
		}
	}
	return answer, true, nil
}

// maxExpiresIn bounds a webhook's expires_in (a year): larger values are
// taken for a mistake, such as a unix time instead of seconds.
const maxExpiresIn = 365 * 24 * 3600

// fail counts and logs a webhook failure, and denies.
func (h *webhook) fail(r *http.Request, reason string, err error) (webhookAnswer, bool, error) {
	h.denials.WithLabelValues(reason).Inc()
	h.logger.WarnContext(r.Context(), "authorization webhook failed; denying", "url", h.url, "reason", reason, "error", err)
	return webhookAnswer{}, false, fmt.Errorf("%w: the authorization service did not answer (it failed or gave an invalid answer)", sse.ErrForbidden)
}

// registerMetrics adds the hub's own metrics (the webhook's denials) to the
// app's Prometheus registry.
func (h *Hub) registerMetrics() {
	if h.webhook != nil {
		h.app.Metrics().Registry().MustRegister(h.webhook.denials)
	}
}
