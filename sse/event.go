package sse

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Limits on names. They keep ids, names and topics safe to put on the wire,
// in Redis keys and in logs.
const (
	// MaxTopicLength is the longest topic name accepted, in bytes.
	MaxTopicLength = 200
	// MaxEventNameLength is the longest event name accepted, in bytes.
	MaxEventNameLength = 100
)

// Reserved event names, sent by ssevents itself. Publishing them is refused
// so that no publisher can spoof them.
const (
	// EventResync tells a client that its Last-Event-ID could not be
	// resumed for a topic and that it should refetch the topic's state
	// through the REST API. One is sent per such topic, first on the
	// stream, with the id the stream may resume from; its data is the
	// topic's Resync as JSON, plus "topics": [topic] for older clients:
	// {"topics":["t"],"topic":"t","reason":"history_exceeded","oldest":"..."}.
	EventResync = "resync"
	// EventHeartbeat is the optional named heartbeat event (see
	// Config.HeartbeatEvent).
	EventHeartbeat = "heartbeat"
	// EventTokenExpired is the last event of a stream whose credentials
	// expired (data: {"exp": <unix seconds>}); the server then closes the
	// stream, and the client reconnects with fresh credentials.
	EventTokenExpired = "token_expired"
)

// IsReservedEvent reports whether name is one of the event names ssevents
// sends itself (resync, heartbeat, token_expired, presence, join, leave),
// which no publish may use.
func IsReservedEvent(name string) bool {
	switch name {
	case EventResync, EventHeartbeat, EventTokenExpired, EventPresence, EventJoin, EventLeave:
		return true
	}
	return false
}

// Event is one published event as a subscriber receives it.
type Event struct {
	// ID is the event's opaque id, assigned by the broker. IDs are
	// ordered: within a topic, a later event has a greater id. It is empty
	// for an event that never entered the history (a raw fastapi-sse-events
	// message on a Redis channel); the stream then carries no id line, and
	// the client keeps its last one.
	ID string
	// Topic is the topic the event was delivered on. An event published to
	// several topics is delivered once per subscription, on the first of
	// its topics that the subscription has.
	Topic string
	// Name is the SSE event name (`event:` line).
	Name string
	// Data is the event's JSON payload (`data:` lines).
	Data json.RawMessage
	// Time is when the event was published, for latency measurements.
	Time time.Time
	// Wire is the event's encoding on an SSE stream: its id, event and
	// data lines and the blank line that ends it, as the broker encoded it
	// once when the event was published or received. Every stream that
	// gets the event writes these same bytes, so a broadcast is encoded
	// once, not once per subscriber. It is read-only: it is shared by
	// every subscriber and the history. Nil for an event made by hand; a
	// stream then encodes ID, Name and Data itself.
	Wire []byte
}

// Size is the event's size on a stream in bytes: len(Wire), or an
// estimate of its encoding when it has none. Queues are bounded by it.
func (e Event) Size() int {
	if e.Wire != nil {
		return len(e.Wire)
	}
	return len(e.ID) + len(e.Name) + len(e.Data) + 20 // "id: ", "event: ", "data: ", newlines
}

// Message is what a publisher sends: one event for one or more topics.
type Message struct {
	// Topics the event is published to; at least one.
	Topics []string
	// Event is the SSE event name.
	Event string
	// Data is the JSON payload.
	Data json.RawMessage
	// IdempotencyKey, when set, makes the publish safe to retry: a second
	// publish with the same key and the same request (topics in any order,
	// event and data: the same Fingerprint) within the history age returns
	// the first one's id and publishes nothing. The same key with another
	// request fails with ErrIdempotencyKeyReused, and while the first
	// publish with the key has not returned, another fails with
	// ErrIdempotencyKeyInFlight. 1 to
	// MaxIdempotencyKeyLength visible ASCII bytes (see
	// ValidateIdempotencyKey). The hub takes it from the Idempotency-Key
	// header.
	IdempotencyKey string
}

// MaxIdempotencyKeyLength is the longest idempotency key accepted, in
// bytes.
const MaxIdempotencyKeyLength = 200

// ValidateIdempotencyKey checks an idempotency key: 1 to
// MaxIdempotencyKeyLength bytes of visible ASCII (0x21 to 0x7E), so it is
// safe in headers, Redis keys and logs.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty idempotency key", ErrInvalidIdempotencyKey)
	}
	if len(key) > MaxIdempotencyKeyLength {
		return fmt.Errorf("%w: idempotency key is %d bytes long, the limit is %d", ErrInvalidIdempotencyKey, len(key), MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: idempotency key has the byte 0x%02x; allowed are visible ASCII characters (0x21 to 0x7E)", ErrInvalidIdempotencyKey, c)
		}
	}
	return nil
}

// Validate checks the message's topics, event name and data, and that the
// data is at most maxSize bytes (no limit when maxSize <= 0).
func (m Message) Validate(maxSize int) error {
	if len(m.Topics) == 0 {
		return ErrNoTopic
	}
	for _, t := range m.Topics {
		if err := ValidateTopic(t); err != nil {
			return err
		}
	}
	if err := ValidateEventName(m.Event); err != nil {
		return err
	}
	if IsReservedEvent(m.Event) {
		return fmt.Errorf("%w: %q is reserved for ssevents itself", ErrInvalidEvent, m.Event)
	}
	if maxSize > 0 && len(m.Data) > maxSize {
		return fmt.Errorf("%w: %d bytes of data, the limit is %d", ErrMessageTooLarge, len(m.Data), maxSize)
	}
	if len(m.Data) == 0 || !json.Valid(m.Data) {
		return ErrInvalidData
	}
	if m.IdempotencyKey != "" {
		return ValidateIdempotencyKey(m.IdempotencyKey)
	}
	return nil
}

// ValidateTopic checks a topic name: 1 to MaxTopicLength bytes of ASCII
// letters, digits and the characters _ - . : @ / = +. Colons namespace
// topics ("ticket:42", "workspace:acme:comments").
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic name", ErrInvalidTopic)
	}
	if len(topic) > MaxTopicLength {
		return fmt.Errorf("%w: topic is %d bytes long, the limit is %d", ErrInvalidTopic, len(topic), MaxTopicLength)
	}
	for i := 0; i < len(topic); i++ {
		if !topicChar(topic[i]) {
			return fmt.Errorf("%w: %q has the character %q; allowed are letters, digits and _ - . : @ / = +", ErrInvalidTopic, topic, topic[i])
		}
	}
	return nil
}

// ValidateEventName checks an event name: 1 to MaxEventNameLength bytes of
// ASCII letters, digits and the characters _ - . : (so it can never carry a
// CR, LF or NUL onto the wire).
func ValidateEventName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty event name", ErrInvalidEvent)
	}
	if len(name) > MaxEventNameLength {
		return fmt.Errorf("%w: event name is %d bytes long, the limit is %d", ErrInvalidEvent, len(name), MaxEventNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(alnum(c) || c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("%w: %q has the character %q; allowed are _ - . : letters and digits", ErrInvalidEvent, name, c)
		}
	}
	return nil
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func topicChar(c byte) bool {
	switch c {
	case '_', '-', '.', ':', '@', '/', '=', '+':
		return true
	}
	return alnum(c)
}

// UniqueTopics returns topics without repeats, in first-seen order. It
// runs in linear time, so a long list costs no more than reading it.
func UniqueTopics(topics []string) []string {
	out := make([]string, 0, len(topics))
	if len(topics) <= 8 {
		for _, t := range topics {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(topics))
	for _, t := range topics {
		if _, dup := seen[t]; !dup {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	return out
}
