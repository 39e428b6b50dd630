// Package client is the Go client of ssevents: it subscribes to the topics
// of a hub or of an application that mounts ssevents.App, and publishes to a
// hub's POST /publish.
//
// A subscription delivers typed events through a callback (Client.Subscribe)
// or a Go iterator (Client.Events). It lives as long as its context and
// survives what a long-lived stream meets in practice:
//
//   - a dropped connection or a restarted server: it reconnects with
//     exponential backoff and full jitter, waits at least the server's
//     `retry:` delay, and sends Last-Event-ID so that the server replays
//     what was missed, without loss or duplicates while the server's
//     history reaches back that far;
//   - a gap the history cannot fill: the server's `resync` events (one
//     per topic) are delivered as Events of kind KindResync naming the
//     topic whose state the application should refetch, and why
//     (Event.Resync: history exceeded, evicted, dataset changed);
//   - credentials that expire: the server's `token_expired` event is
//     delivered as an Event of kind KindTokenExpired (with Exp), then the
//     subscription reconnects at once with a fresh token from
//     Config.TokenFunc, resuming from the last event id; without TokenFunc
//     it ends with an error wrapping ErrTokenExpired;
//   - a dead connection (a NAT or proxy that silently dropped it): when no
//     byte arrives for MissedHeartbeats heartbeat intervals, the connection
//     is abandoned and a new one made.
//
// Answers that retrying cannot fix (400, 401, 403, 404, ...) end the
// subscription with a *StatusError carrying the HTTP status and the
// server's JSON error message; it reads "ssevents: <message> (<status>)"
// and matches, with errors.Is, the sse sentinel the server answered with
// (sse.ErrInvalidTopic, sse.ErrUnauthorized, ...).
//
// Named heartbeat events (a hub with SSE_HEARTBEAT_EVENT=true) are skipped
// unless the subscription asks for them with the Heartbeats option.
//
// Client.Position returns the stream position of topics (GET /position):
// taken before reading the data a subscriber starts from and passed to
// ResumeFrom, it makes the subscription deliver exactly the events
// published after it.
//
// Publishing (Client.Publish, PublishTopics, PublishMessage) sends an
// Idempotency-Key with every request and retries the same request with the
// same key after a 503, a 409 (the key's first request still in flight) or
// a lost connection, up to Config.PublishRetries times, so that a hub
// restart neither loses nor doubles the event. A key reused for another
// request is answered 422: the *StatusError matches
// sse.ErrIdempotencyKeyReused and unwraps to an *sse.IdempotencyKeyError.
//
// The package depends on the standard library and on ssevents' own
// packages only.
//
// It imports the contracts (package sse) and internal/wire, and the
// standard library; never the server or Prometheus.
package client
