// Package check is a Jepsen-style checker of ssevents' delivery promise,
// meant to be pointed at a real deployment while it is being broken
// (restarted, partitioned, its Redis killed).
//
// The promise: a subscriber receives every event published with a 2xx
// answer on its topics, once and in order, or it receives a `resync` event
// naming the topics it must refetch. Run opens reconnecting subscribers
// with the Go client, publishes events that carry their own identity with
// idempotency keys and retries, records everything (each delivery, each
// resync, each publish attempt), and then judges the history:
//
//   - lost: an acknowledged event a stream should have received (it was
//     open before the publish started) but neither received nor was told
//     to resync;
//   - phantom: a delivered event whose publish was answered only with
//     errors meaning "not published" (503, 4xx), or whose id differs from
//     the acknowledged one (it executed twice); a publish of unknown
//     outcome (no answer, 502 or 504) is sent again with its key after
//     the run to settle it, and may be delivered once if that fails too;
//   - duplicate: the same event twice on one stream, on the same
//     connection or another;
//   - reordered: on one stream and topic, an event older than one before it;
//   - unjustified resync: a resync whose reason (history_exceeded, evicted,
//     dataset_changed) does not hold against what the checker saw: the
//     acknowledged events after the id the stream resumed from, versus the
//     history size and age; the oldest id the hub says it holds; the
//     genesis of a new dataset, and every other stream of the topic, on
//     every URL, told the same when it resumed from before it. A resync
//     that does not start a resumed connection is never justified.
//
// The package depends on the standard library and ssevents' client and
// streamid packages only.
//
// It imports client, internal/streamid and internal/pace, and the
// standard library.
package check
