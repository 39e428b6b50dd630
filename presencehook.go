package ssevents

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// MinPresenceWebhookSecret is the shortest PresenceWebhookSecret accepted,
// in bytes.
const MinPresenceWebhookSecret = 16

// PresenceSignatureHeader is the header of a presence webhook request that
// signs its body: "sha256=" and the hex HMAC-SHA256 of the body keyed with
// Config.PresenceWebhookSecret. PresenceDeliveryHeader carries the
// change's id (the same on a redelivery), PresenceEventHeader "join" or
// "leave".
const (
	PresenceSignatureHeader = "SSE-Signature"
	PresenceDeliveryHeader  = "SSE-Delivery"
	PresenceEventHeader     = "SSE-Event"
)

// SignPresence returns the PresenceSignatureHeader value of body under
// secret, for a webhook receiver to compare (with hmac.Equal) against the
// header it got.
func SignPresence(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// checkPresence checks the presence settings together.
func (c Config) checkPresence() error {
	if c.PresenceWebhookURL != "" && c.PresenceWebhookSecret == "" {
		return fmt.Errorf("%w: SSE_PRESENCE_WEBHOOK_URL (PresenceWebhookURL) needs SSE_PRESENCE_WEBHOOK_SECRET (PresenceWebhookSecret, at least %d bytes) to sign its requests",
			sse.ErrInvalidConfig, MinPresenceWebhookSecret)
	}
	if c.PresenceWebhookURL != "" && len(c.Presence) == 0 {
		return fmt.Errorf("%w: SSE_PRESENCE_WEBHOOK_URL (PresenceWebhookURL) is set but SSE_PRESENCE (Presence) tracks no topic", sse.ErrInvalidConfig)
	}
	return nil
}

// checkWebhookURL accepts an absolute http or https URL.
func checkWebhookURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	return nil
}

// checkWebhookSecret accepts a secret of at least MinPresenceWebhookSecret
// bytes.
func checkWebhookSecret(v string) error {
	if len(v) < MinPresenceWebhookSecret {
		return fmt.Errorf("want at least %d bytes", MinPresenceWebhookSecret)
	}
	return nil
}

// presenceOutbox hands each join and leave of the cluster, at least once
// per cluster, to the OnPresence functions and the presence webhook.
type presenceOutbox struct {
	store   sse.PresenceStore
	metrics *Metrics
	logger  *slog.Logger
	hook    *presenceWebhook // nil without PresenceWebhookURL

	mu  sync.Mutex
	fns []func(sse.PresenceEvent)

	cancel context.CancelFunc
	done   chan struct{}
}

// OnPresence registers fn, called with each join and leave of the topics
// Config.Presence tracks: once per cluster at least (on one instance, not
// on each; again only if the instance that took it died before it was
// done), in order per topic. fn runs on one goroutine, with the webhook
// (Config.PresenceWebhookURL): a slow fn delays the changes after it. It
// does nothing when presence is off.
func (a *App) OnPresence(fn func(sse.PresenceEvent)) {
	if a.outbox == nil {
		return
	}
	a.outbox.mu.Lock()
	defer a.outbox.mu.Unlock()
	a.outbox.fns = append(a.outbox.fns, fn)
}

// startOutbox starts the loop that takes changes from the store's outbox.
func startOutbox(cfg Config, p *presence) *presenceOutbox {
	ctx, cancel := context.WithCancel(context.Background())
	o := &presenceOutbox{store: p.store, metrics: p.metrics, logger: cfg.Logger, cancel: cancel, done: make(chan struct{})}
	if cfg.PresenceWebhookURL != "" {
		o.hook = &presenceWebhook{url: cfg.PresenceWebhookURL, secret: cfg.PresenceWebhookSecret,
			client: &http.Client{Timeout: presenceWebhookTimeout}, metrics: p.metrics, logger: cfg.Logger}
	}
	go o.run(ctx)
	return o
}

// close stops the loop; changes taken and not done are handed out again.
func (o *presenceOutbox) close() {
	o.cancel()
	<-o.done
}

func (o *presenceOutbox) run(ctx context.Context) {
	defer close(o.done)
	for {
		evs, err := o.store.Next(ctx, 64)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.logger.Warn("presence: reading the outbox failed; retrying", "error", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		for _, ev := range evs {
			if !o.deliver(ctx, ev) {
				return // shutting down: not acked, handed out again
			}
		}
		if err := o.store.Ack(ctx, evs); err != nil && ctx.Err() == nil {
			o.logger.Warn("presence: acknowledging changes failed; they may be delivered again", "error", err)
		}
	}
}

// deliver hands ev to the functions and the webhook; it reports false
// when ctx ended first.
func (o *presenceOutbox) deliver(ctx context.Context, ev sse.PresenceEvent) bool {
	if ev.Type == sse.EventJoin {
		o.metrics.presenceJoins.Add(1)
	} else {
		o.metrics.presenceLeaves.Add(1)
	}
	o.mu.Lock()
	fns := o.fns
	o.mu.Unlock()
	for _, fn := range fns {
		o.call(fn, ev)
	}
	if o.hook == nil {
		return true
	}
	return o.hook.send(ctx, ev)
}

// call runs fn, logging its panic instead of ending the loop.
func (o *presenceOutbox) call(fn func(sse.PresenceEvent), ev sse.PresenceEvent) {
	defer func() {
		if v := recover(); v != nil {
			o.logger.Error("presence: OnPresence function panicked", "panic", v, "topic", ev.Topic, "user", ev.User)
		}
	}()
	fn(ev)
}

// Presence webhook timing: each call's timeout, and the backoff between
// attempts (full jitter, doubling up to the cap).
const (
	presenceWebhookTimeout    = 10 * time.Second
	presenceWebhookBackoff    = 250 * time.Millisecond
	presenceWebhookBackoffCap = 30 * time.Second
)

// presenceWebhook POSTs changes to Config.PresenceWebhookURL.
type presenceWebhook struct {
	url, secret string
	client      *http.Client
	metrics     *Metrics
	logger      *slog.Logger
}

// send POSTs ev until the webhook answers 2xx, or a 4xx other than 408 and
// 429 (a refusal that a retry would not change: logged and dropped); it
// reports false when ctx ended first. Every failed attempt is counted.
func (w *presenceWebhook) send(ctx context.Context, ev sse.PresenceEvent) bool {
	body, _ := json.Marshal(ev)
	backoff := presenceWebhookBackoff
	for attempt := 1; ; attempt++ {
		status, err := w.post(ctx, ev, body)
		if err == nil && status/100 == 2 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.metrics.presenceWebhookFailures.Add(1)
		if err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			w.logger.Error("presence webhook refused a change; dropped", "status", status, "type", ev.Type, "topic", ev.Topic, "user", ev.User, "id", ev.ID)
			return true
		}
		w.logger.Warn("presence webhook failed; retrying", "status", status, "error", err, "attempt", attempt, "id", ev.ID)
		if !sleepCtx(ctx, rand.N(backoff)+time.Millisecond) {
			return false
		}
		backoff = min(2*backoff, presenceWebhookBackoffCap)
	}
}

// post makes one attempt.
func (w *presenceWebhook) post(ctx context.Context, ev sse.PresenceEvent, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ssevents-presence")
	req.Header.Set(PresenceSignatureHeader, SignPresence(w.secret, body))
	req.Header.Set(PresenceDeliveryHeader, ev.ID)
	req.Header.Set(PresenceEventHeader, ev.Type)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	return resp.StatusCode, nil
}

// sleepCtx waits d; it reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
