package sse

import (
	"context"
	"errors"
)

// ErrNoPosition: the broker cannot tell stream positions (it does not
// implement Positioner). It maps to 501.
var ErrNoPosition = errors.New("ssevents: the broker cannot tell stream positions")

// Positioner is implemented by brokers that can tell the position of their
// stream now, so that a page rendered from data read after it can subscribe
// from exactly there. The brokers of this module implement it.
//
// Its methods are safe for concurrent use. After Close, Position returns
// ErrBrokerClosed; a backend that cannot be reached returns an error
// wrapping ErrUnavailable.
type Positioner interface {
	// Position returns the position of the stream of topics now: an
	// opaque string, at most 256 bytes of URL-safe characters, that, given
	// as SubscribeRequest.LastEventID to any subscription to topics (on
	// any instance sharing the backend), yields exactly the events
	// published on them after Position returned, and none before; an
	// event published while it runs is either before (not delivered) or
	// after (delivered). While the history still covers it, resuming from
	// it yields no resync, also on a topic that has had no event yet.
	Position(ctx context.Context, topics []string) (string, error)
}
