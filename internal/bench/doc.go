// Package bench is the load tool behind `ssevents bench`: it opens many
// subscriptions to a hub running on the same machine (one instance or
// several, round-robin; in this process, or in worker processes when there
// are more than one process can hold; from several loopback source
// addresses when one would run out of ephemeral ports), publishes events
// through POST /publish at a fixed rate or, with rate 0, as fast as its
// publishers can, and reports connect times, delivery latency, throughput,
// lost events and the server's memory per connection; Report.WriteHTML
// draws the run's per-second series (Series: latency percentiles,
// deliveries, publishes, open connections, server memory) on one
// self-contained page.
//
// Each event's data carries its publish time and a sequence number, so a
// worker measures latency on receipt against the same clock and counts
// duplicates; lost events are the deliveries expected from what was
// published minus those received.
//
// With Config.Users every subscription authenticates as one of several
// users, with an HS256 token the run mints for it, so that a hub's presence
// counts distinct members; Config.Presence then measures, before
// publishing, how long presence takes to count every stream exactly and how
// fast GET /presence answers (PresenceReport).
//
// It imports client, internal/pace, golang-jwt and the standard library.
package bench
