// Package ssevents adds real-time, "refresh-less" updates to REST APIs
// with Server-Sent Events: clients subscribe to topics with a browser's
// EventSource, the API publishes a small event when data changes, and
// clients refetch through the REST API (notify-then-fetch).
//
// The root package holds the contracts and the pieces every deployment
// uses:
//
//   - Event, Message and topic/event-name validation;
//   - Broker and Subscription, the contract every broker implements, with
//     a registry by URL scheme (RegisterBroker, OpenBroker), and Queue, the
//     bounded per-subscriber queue brokers deliver into;
//   - MemoryBroker, the embedded broker with per-topic history, selected
//     by Config.BrokerURL "memory://", the default (the Redis broker lives
//     in broker/redis and registers redis://, rediss://, redis+sentinel://,
//     redis+cluster://);
//   - Handler, the SSE endpoint: several topics per connection,
//     Last-Event-ID resume, resync, heartbeats, limits;
//   - Publisher and its middleware PublishEvent, which publishes a
//     handler's JSON answer;
//   - App, the one-call setup with health and metrics endpoints, and
//     Config, filled from SSE_* environment variables by ConfigFromEnv;
//   - Metrics, exposed as JSON and in the Prometheus format.
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
// retry publishes nothing new and answers the first id. Every id is tied
// to the dataset that issued it: an id of a dataset that no longer exists
// (a Redis restart without data, a flush, a failover that lost writes, a
// previous embedded broker) yields a resync. App.Close refuses publishes
// first, then lets streams write what is queued, then ends them. The
// README's "Delivery guarantees" section has the fault table, and
// `ssevents bench --check` checks all of this against a running
// deployment.
//
// The embedded broker lives in this package so that the zero Config works
// with no import and no external service; every other implementation is a
// subpackage that depends on this one and never on its siblings.
package ssevents
