package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// The webhook protocol is described in the package documentation.

// webhookRequest is the body the hub sends to the webhook.
type webhookRequest struct {
	Topics []string `json:"topics"`
}

// webhookReply is the body the webhook may answer with.
type webhookReply struct {
	Allow  *bool    `json:"allow"`
	Topics []string `json:"topics"`
}

// webhookAnswer is what the webhook allowed.
type webhookAnswer struct {
	all    bool     // every requested topic
	topics []string // else these
}

func (a webhookAnswer) allows(topic string) bool {
	return a.all || slices.Contains(a.topics, topic)
}

// maxWebhookReply bounds the webhook's answer body that is read.
const maxWebhookReply = 64 << 10

// maxWebhookCacheEntries bounds the cache: about 100 bytes an entry, so at
// most a few MB however many distinct clients connect.
const maxWebhookCacheEntries = 50_000

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

func newWebhook(cfg Config) *webhook {
	return &webhook{
		url: cfg.AuthorizeURL, client: cfg.HTTPClient, timeout: cfg.AuthorizeTimeout,
		ttl: cfg.AuthorizeCacheTTL, logger: cfg.Logger,
		cache:   make(map[[sha256.Size]byte]cacheEntry),
		flights: make(map[[sha256.Size]byte]*flight),
	}
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
		h.store(key, cacheEntry{answer: answer, err: err, expires: now.Add(h.ttl)}, now)
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
		fmt.Fprintf(hsh, "%d:%s,", len(s), s)
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
		return h.fail(r, err)
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
	resp, err := h.client.Do(req)
	if err != nil {
		return h.fail(r, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookReply))
	if err != nil {
		return h.fail(r, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return webhookAnswer{}, true, fmt.Errorf("%w: the application did not recognize the credentials", sse.ErrUnauthorized)
	case resp.StatusCode == http.StatusForbidden:
		return webhookAnswer{}, true, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return h.fail(r, fmt.Errorf("answered %s", resp.Status))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return webhookAnswer{all: true}, true, nil
	}
	var reply webhookReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return h.fail(r, fmt.Errorf("answer is not JSON: %w", err))
	}
	switch {
	case reply.Allow != nil && !*reply.Allow:
		return webhookAnswer{}, true, nil
	case reply.Topics != nil:
		return webhookAnswer{topics: reply.Topics}, true, nil
	}
	return webhookAnswer{all: true}, true, nil
}

// fail logs a webhook failure and denies.
func (h *webhook) fail(r *http.Request, err error) (webhookAnswer, bool, error) {
	h.logger.WarnContext(r.Context(), "authorization webhook failed; denying", "url", h.url, "error", err)
	return webhookAnswer{}, false, fmt.Errorf("%w: the authorization service did not answer", sse.ErrForbidden)
}
