package sse

import (
	"encoding/json"
	"time"
)

// Defaults of the protocol between the hub and its clients.
const (
	// DefaultPath is where a hub serves its SSE endpoint.
	DefaultPath = "/events"
	// DefaultHeartbeatInterval is how often a hub writes a heartbeat to an
	// idle stream, well under the 60 s idle timeout of common proxies; a
	// client that hears nothing for a few of them takes the connection for
	// dead.
	DefaultHeartbeatInterval = 15 * time.Second
)

// IdempotencyKeyHeader is the request header of the hub's POST /publish
// that makes a retry safe: a retry with the same key and request (topics,
// event, data) within the history age answers the first publish's id and
// publishes nothing new; the key with another request answers 422, and
// while the first request is in flight 409 (see Message.IdempotencyKey).
const IdempotencyKeyHeader = "Idempotency-Key"

// PublishRequest is the JSON body of the hub's POST /publish (package hub),
// which client.Publish sends.
type PublishRequest struct {
	// Topic is the one topic to publish to; use Topics for several.
	Topic string `json:"topic,omitempty"`
	// Topics are the topics to publish to; a subscriber of several
	// receives the event once.
	Topics []string `json:"topics,omitempty"`
	// Event is the SSE event name.
	Event string `json:"event"`
	// Data is the event's JSON payload; null when absent.
	Data json.RawMessage `json:"data,omitempty"`
}

// PublishResponse is the JSON body of a successful POST /publish.
type PublishResponse struct {
	// ID is the published event's id.
	ID string `json:"id"`
}
