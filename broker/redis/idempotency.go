package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// The prefixes of the script errors about an idempotency key (see luaIdem).
const (
	idemReusedReply   = "IDEMREUSED"
	idemInFlightReply = "IDEMINFLIGHT"
)

// keySet is the idempotency keys of the publishes in flight on this
// instance: a second publish with one of them is refused at once, as the
// embedded broker does. Across instances, a key is checked by the scripts
// (its record on a single node, its reservation on a cluster).
type keySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// enter adds key; it reports false when key is in already.
func (s *keySet) enter(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return false
	}
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	s.keys[key] = struct{}{}
	return true
}

// leave removes key, added by enter.
func (s *keySet) leave(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
}

// holdInFlight calls the test hook, if any, for a publish whose key is in
// flight, before it is published.
func (b *Broker) holdInFlight(msg sse.Message) {
	if b.inFlightHook != nil {
		b.inFlightHook(msg)
	}
}

// idempotencyKey returns the key that records a publish made with an
// idempotency key: for the whole message on a single node; on a cluster,
// per channel ch, in the channel's slot. Without an idempotency key it
// returns a key the script does not touch.
func (b *Broker) idempotencyKey(msg sse.Message, ch string) string {
	if msg.IdempotencyKey == "" {
		if ch != "" {
			return streamKey(ch) // same slot as the stream
		}
		return b.counter
	}
	h := sha256.New()
	h.Write([]byte(msg.IdempotencyKey))
	if ch != "" {
		h.Write([]byte{0})
		h.Write([]byte(ch))
		return "ssevents:{" + ch + "}:idem:" + hex.EncodeToString(h.Sum(nil)[:16])
	}
	return b.counter + ":idem:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// reservationKey returns the key that reserves and records an idempotency
// key on a cluster: in the id record's slot (its hash tag is the id
// record's name).
func (b *Broker) reservationKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return "{" + b.counter + "}:idem:" + hex.EncodeToString(h[:16])
}

// reserve reserves the idempotency key of msg, a publish on a cluster
// whose request has the fingerprint fp, for at most timeout (how long the
// publish may take) and returns its id: a new one, or with retry the
// recorded one of the same request. See reserveScript.
func (b *Broker) reserve(ctx context.Context, msg sse.Message, fp string, timeout time.Duration) (id string, retry bool, err error) {
	// A second more than the publish may take, so that the reservation
	// outlives it; a hub that dies meanwhile holds the key that long.
	hold := timeout.Milliseconds() + 1000
	keys := []string{b.counter, b.reservationKey(msg.IdempotencyKey)}
	reply, err := reserveScript.Exec(ctx, b.client, keys, []string{fp, strconv.FormatInt(hold, 10)}).AsStrSlice()
	if err != nil {
		return "", false, err
	}
	if len(reply) != 2 {
		return "", false, errShortReply
	}
	return reply[1], reply[0] == "retry", nil
}

// settle ends the reservation of msg's key: it records id, or drops the
// reservation when id is "" (the publish failed), so that a retry may
// publish. A failure leaves the reservation to expire.
func (b *Broker) settle(msg sse.Message, fp, id string) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
	defer cancel()
	age := strconv.FormatInt(b.opts.HistoryAge.Milliseconds(), 10)
	err := settleScript.Exec(ctx, b.client, []string{b.reservationKey(msg.IdempotencyKey)}, []string{fp, id, age}).Error()
	if err != nil {
		b.log.Warn("ssevents/redis: settling an idempotency key failed; it stays reserved until it expires", "error", err)
	}
}

// publishError turns a failed publish script into the error Publish
// returns: an *sse.IdempotencyKeyError for a refused idempotency key, or
// one wrapping sse.ErrOutcomeUnknown when it may have run (unknown), or
// sse.ErrUnavailable.
func (b *Broker) publishError(ctx context.Context, msg sse.Message, err error, unknown bool) error {
	switch text := err.Error(); {
	case strings.Contains(text, idemReusedReply):
		return sse.NewIdempotencyKeyError(msg.IdempotencyKey, sse.ErrIdempotencyKeyReused)
	case strings.Contains(text, idemInFlightReply):
		return sse.NewIdempotencyKeyError(msg.IdempotencyKey, sse.ErrIdempotencyKeyInFlight)
	}
	return b.publishFailed(ctx, err, unknown)
}
