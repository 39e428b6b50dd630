package ssevents

import "encoding/json"

// IdempotencyKeyHeader is the request header of the hub's POST /publish
// that makes a retry safe: a retry with the same key and topics within the
// history age answers the first publish's id and publishes nothing new
// (see Message.IdempotencyKey).
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
