package sse

import (
	"errors"
	"net/http"
)

// Errors returned by the package. Check them with errors.Is: they are often
// wrapped with details (the offending topic, the limit that was passed).
var (
	// ErrNoTopic: a subscription or publish named no topic at all.
	ErrNoTopic = errors.New("ssevents: no topic given")
	// ErrInvalidTopic: a topic name is empty, too long or has a character
	// outside the allowed set (see ValidateTopic).
	ErrInvalidTopic = errors.New("ssevents: invalid topic")
	// ErrTooManyTopics: a subscription asked for more topics than
	// Config.MaxTopicsPerConnection allows.
	ErrTooManyTopics = errors.New("ssevents: too many topics")
	// ErrInvalidEvent: an event name is empty, too long, has a character
	// outside the allowed set or is reserved (see ValidateEventName).
	ErrInvalidEvent = errors.New("ssevents: invalid event name")
	// ErrInvalidData: event data is not valid JSON.
	ErrInvalidData = errors.New("ssevents: event data is not valid JSON")
	// ErrInvalidRequest: a request (its body, or a subscribe query) could
	// not be read as the endpoint expects.
	ErrInvalidRequest = errors.New("ssevents: invalid request")
	// ErrInvalidIdempotencyKey: an idempotency key is empty, too long or
	// has a byte outside visible ASCII (see ValidateIdempotencyKey).
	ErrInvalidIdempotencyKey = errors.New("ssevents: invalid idempotency key")
	// ErrIdempotencyKeyReused: a publish came with the idempotency key of
	// an earlier one (within the history age) but another request: other
	// topics, event or data (see Message.Fingerprint). Nothing was
	// published (422). Returned wrapped in an *IdempotencyKeyError.
	ErrIdempotencyKeyReused = errors.New("ssevents: idempotency key reused for a different request")
	// ErrIdempotencyKeyInFlight: a publish came with the idempotency key
	// of one that has not been answered yet. Nothing was published; a
	// retry once the first has been answered gets its outcome (409).
	// Returned wrapped in an *IdempotencyKeyError.
	ErrIdempotencyKeyInFlight = errors.New("ssevents: a request with this idempotency key is still in flight")
	// ErrRequestTimeout: a request body did not arrive in the time the
	// endpoint allows (408).
	ErrRequestTimeout = errors.New("ssevents: request timeout")
	// ErrUnsupportedMediaType: a request body came with a Content-Type the
	// endpoint does not accept (415).
	ErrUnsupportedMediaType = errors.New("ssevents: unsupported media type")
	// ErrMessageTooLarge: event data is larger than Config.MaxMessageSize.
	ErrMessageTooLarge = errors.New("ssevents: message too large")
	// ErrTooManyConnections: the instance already serves
	// Config.MaxConnections streams.
	ErrTooManyConnections = errors.New("ssevents: too many connections")
	// ErrRateLimited: a client went over a rate or concurrency limit (the
	// hub's SSE_PUBLISH_RATE, SSE_MAX_CONNECTIONS_PER_IP); the response
	// carries Retry-After.
	ErrRateLimited = errors.New("ssevents: rate limited")
	// ErrForbidden: the authorizer denied a topic.
	ErrForbidden = errors.New("ssevents: forbidden")
	// ErrUnauthorized: the request carries no valid credentials.
	ErrUnauthorized = errors.New("ssevents: unauthorized")
	// ErrSlowConsumer: a subscriber's queue overflowed because it read
	// slower than events arrived; the subscription was ended so that it
	// can resume from history.
	ErrSlowConsumer = errors.New("ssevents: subscriber too slow, queue overflowed")
	// ErrLagging: a subscriber's queue overflowed while its client had
	// accepted everything written to it: the server fell too far behind
	// (see LagQueueFactor). The subscription was ended so that it can
	// resume from history; the client is not counted as slow.
	ErrLagging = errors.New("ssevents: server too far behind this subscriber, queue overflowed")
	// ErrBrokerClosed: the broker was closed.
	ErrBrokerClosed = errors.New("ssevents: broker closed")
	// ErrUnavailable: the broker's backend (Redis) cannot be reached now.
	ErrUnavailable = errors.New("ssevents: broker unavailable")
	// ErrOutcomeUnknown: a publish reached the broker's backend, or may
	// have, but its answer was lost (the connection broke or timed out
	// before Redis replied): the event may have been published or not.
	// The publisher must send the request again with the same
	// Idempotency-Key, which answers the event's id if it was published
	// and publishes it otherwise. It maps to 504, unlike ErrUnavailable's
	// 503, which means "not published".
	ErrOutcomeUnknown = errors.New("ssevents: publish outcome unknown")
	// ErrUnknownBroker: no broker is registered for a URL's scheme.
	ErrUnknownBroker = errors.New("ssevents: no broker registered for URL scheme")
	// ErrInvalidConfig: a configuration value is out of its allowed range.
	ErrInvalidConfig = errors.New("ssevents: invalid configuration")
	// ErrNotTracked: presence was asked of a topic that no presence
	// pattern (Config.Presence, SSE_PRESENCE) tracks, or presence is off
	// (404).
	ErrNotTracked = errors.New("ssevents: topic not tracked for presence")
)

// HTTPStatus maps an error to the HTTP status a client should see: the one
// table of error kinds to statuses. Unknown errors map to 500.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrNoTopic), errors.Is(err, ErrInvalidTopic),
		errors.Is(err, ErrTooManyTopics), errors.Is(err, ErrInvalidEvent),
		errors.Is(err, ErrInvalidData), errors.Is(err, ErrInvalidRequest),
		errors.Is(err, ErrInvalidIdempotencyKey):
		return http.StatusBadRequest
	case errors.Is(err, ErrIdempotencyKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrIdempotencyKeyInFlight):
		return http.StatusConflict
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNotTracked):
		return http.StatusNotFound
	case errors.Is(err, ErrMessageTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrRequestTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrOutcomeUnknown):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrNoPosition):
		return http.StatusNotImplemented
	case errors.Is(err, ErrTooManyConnections), errors.Is(err, ErrUnavailable),
		errors.Is(err, ErrBrokerClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error response: {"error": "..."}.
type ErrorBody struct {
	// Error says what was wrong, in words meant for the client's developer.
	Error string `json:"error"`
	// IdempotencyKey is the request's idempotency key when the error is
	// about it (422 key reused, 409 key in flight); omitted otherwise.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}
