// Package memory is the embedded broker: fan-out inside one process, with a
// bounded history per topic for Last-Event-ID resume, and idempotent
// publish. It registers the URL scheme "memory" (sse.OpenBroker opens it
// for an empty URL too); the ssevents server package imports it, so the
// zero ssevents.Config works with no import and no external service.
//
// It imports only the contracts (package sse) and the standard library.
package memory

import (
	"context"
	"net/url"

	"github.com/ssevents/ssevents/sse"
)

func init() {
	sse.RegisterBroker("memory", func(_ context.Context, _ *url.URL, opts sse.BrokerOptions) (sse.Broker, error) {
		return New(opts), nil
	})
}
