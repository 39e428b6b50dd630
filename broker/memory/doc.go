// Package memory is the embedded broker: fan-out inside one process, with a
// bounded history per topic for Last-Event-ID resume, and idempotent
// publish. Topics are sharded by a hash of their name, so that publishes
// to different topics, and their fan-outs, run in parallel. The whole
// history is bounded in topics and estimated bytes
// (sse.BrokerOptions.HistoryMaxTopics, HistoryMaxBytes; EventBytes and
// TopicBytes are the estimate), the least recently published topics
// evicted first, and so are the idempotency records
// (IdempotencyMaxRecords). It registers the URL scheme "memory"
// (sse.OpenBroker opens it for an empty URL too); the ssevents server
// package imports it, so the zero ssevents.Config works with no import and
// no external service.
//
// It keeps presence too (Broker.Presence, sse.PresenceStore): who is on
// each tracked topic, with joins and leaves after a grace period, served
// by one janitor goroutine whatever the number of members; with a data
// directory, a restart keeps the members for their grace period
// (PresenceFile), so that reconnecting users neither leave nor join.
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
		return Open(opts)
	})
}
