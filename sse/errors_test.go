package sse_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ssevents/ssevents/sse"
)

func TestHTTPStatusTable(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		nil:                           200,
		sse.ErrNoTopic:                400,
		sse.ErrInvalidTopic:           400,
		sse.ErrNoPosition:             501,
		sse.ErrTooManyTopics:          400,
		sse.ErrInvalidEvent:           400,
		sse.ErrInvalidData:            400,
		sse.ErrInvalidRequest:         400,
		sse.ErrInvalidIdempotencyKey:  400,
		sse.ErrUnauthorized:           401,
		sse.ErrIdempotencyKeyReused:   422,
		sse.ErrIdempotencyKeyInFlight: 409,
		sse.NewIdempotencyKeyError("k", sse.ErrIdempotencyKeyReused):   422,
		sse.NewIdempotencyKeyError("k", sse.ErrIdempotencyKeyInFlight): 409,
		sse.ErrForbidden:                              403,
		sse.ErrMessageTooLarge:                        413,
		sse.ErrRateLimited:                            429,
		sse.ErrRequestTimeout:                         408,
		sse.ErrUnsupportedMediaType:                   415,
		sse.ErrTooManyConnections:                     503,
		sse.ErrUnavailable:                            503,
		sse.ErrBrokerClosed:                           503,
		sse.ErrOutcomeUnknown:                         504,
		fmt.Errorf("wrapped: %w", sse.ErrUnavailable): 503,
		errors.New("anything else"):                   500,
		sse.ErrSlowConsumer:                           500,
	} {
		if got := sse.HTTPStatus(err); got != want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", err, got, want)
		}
	}
}
