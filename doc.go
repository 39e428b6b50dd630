// Package ssevents adds real-time, "refresh-less" updates to REST APIs
// with Server-Sent Events: clients subscribe to topics with a browser's
// EventSource, the API publishes a small event when data changes, and
// clients refetch through the REST API (notify-then-fetch).
//
// This package is the server that applications import:
//
//   - Handler, the SSE endpoint: several topics per connection,
//     Last-Event-ID resume, resync, heartbeats, limits, slow-client
//     isolation;
//   - Publisher and its middleware PublishEvent, which publishes a
//     handler's JSON answer;
//   - App, the one-call setup (New) with health and metrics endpoints,
//     and Config, filled from SSE_* environment variables by ConfigFromEnv;
//   - Metrics, exposed as JSON and in the Prometheus format, and the
//     sse.Observer brokers report to.
//
// The contracts it serves (Event, Message, Broker, the errors and their
// HTTP statuses) live in package sse, which imports only the standard
// library; Event, Message and Broker have aliases here. Brokers are
// packages of their own, registered by URL scheme: broker/memory, the
// embedded default (memory://, or an empty URL), which this package
// imports, and broker/redis (redis://, rediss://, redis+sentinel://,
// redis+cluster://), which an application imports when it wants it.
//
// It imports sse, broker/memory, internal/wire and the Prometheus client;
// no broker, client or contract package imports it.
//
// # Delivery guarantees
//
// An event is never silently lost. A publish answered with an id (2xx over
// HTTP) reaches every stream subscribed to its topic at that moment,
// exactly once per stream, in publish order per topic; a stream that
// reconnects with Last-Event-ID gets what it missed from history or a
// "resync" event naming the topics to refetch. A publish answered with an
// error is never delivered, not even later. A publish with
// Message.IdempotencyKey (the Idempotency-Key header) may be retried: a
// retry publishes nothing new and answers the first id; the key used for
// another request is refused (sse.ErrIdempotencyKeyReused, 422), as is a
// second request while the first is in flight (409). Every id is tied
// to the dataset that issued it: an id of a dataset that no longer exists
// (a Redis restart without data, a flush, a failover that lost writes, a
// previous embedded broker) yields a resync. App.Close refuses publishes
// first, then lets streams write what is queued, then ends them. The
// README's "Delivery guarantees" section has the fault table, and
// `ssevents bench --check` checks all of this against a running
// deployment.
package ssevents
