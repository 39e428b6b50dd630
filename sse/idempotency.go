package sse

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Fingerprint is what identifies the request behind an idempotency key:
// a SHA-256 over a canonical encoding of a message's topics (sorted,
// without repeats), event name and data (byte for byte). A broker keeps it
// in the key's record, so that a retry (same fingerprint) is told apart
// from a key reused for another request.
type Fingerprint [sha256.Size]byte

// Fingerprint returns the message's fingerprint. Its idempotency key is
// not part of it. Topics are taken in any order, repeats counted once.
func (m Message) Fingerprint() Fingerprint {
	topics := m.Topics
	if len(topics) > 1 {
		topics = slices.Clone(topics)
		slices.Sort(topics)
		topics = slices.Compact(topics)
	}
	// Each field is length-prefixed, so that no two messages share an
	// encoding (say, topic "a" + event "bc" and topic "ab" + event "c").
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(topics)))])
	for _, t := range topics {
		field([]byte(t))
	}
	field([]byte(m.Event))
	field(m.Data)
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// IdempotencyKeyError is a publish refused for its idempotency key: Err is
// ErrIdempotencyKeyReused or ErrIdempotencyKeyInFlight, Key the key. Its
// message names the key, and errors.Is matches Err.
type IdempotencyKeyError struct {
	// Key is the idempotency key of the refused publish.
	Key string
	// Err is the sentinel saying why it was refused.
	Err error
}

// NewIdempotencyKeyError returns the error refusing a publish with key for
// the reason err (ErrIdempotencyKeyReused or ErrIdempotencyKeyInFlight).
func NewIdempotencyKeyError(key string, err error) *IdempotencyKeyError {
	return &IdempotencyKeyError{Key: key, Err: err}
}

// Error implements error: the sentinel's message, the key and what to do.
func (e *IdempotencyKeyError) Error() string {
	switch {
	case errors.Is(e.Err, ErrIdempotencyKeyReused):
		return fmt.Sprintf("%v: key %q was used for a publish with other topics, event or data; use a new key for a new event", e.Err, e.Key)
	case errors.Is(e.Err, ErrIdempotencyKeyInFlight):
		return fmt.Sprintf("%v: key %q; retry once the first request has been answered", e.Err, e.Key)
	}
	return fmt.Sprintf("%v: key %q", e.Err, e.Key)
}

// Unwrap returns Err, so that errors.Is matches the sentinel.
func (e *IdempotencyKeyError) Unwrap() error { return e.Err }
