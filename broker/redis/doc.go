// Package redis is the Redis broker of ssevents: fan-out across instances
// through Redis Pub/Sub, history for Last-Event-ID resume in one Redis
// Stream per topic, Redis Cluster with sharded Pub/Sub, and survival of
// Redis outages. Import it for its side effect to make the redis://,
// rediss://, redis+cluster:// and redis+sentinel:// URL schemes available
// to sse.OpenBroker:
//
//	import _ "github.com/ssevents/ssevents/broker/redis"
//
// # Data layout
//
// A topic's channel is the topic, or "<prefix>:<topic>" with
// BrokerOptions.TopicPrefix: the channel fastapi-sse-events uses. Its
// history is the stream "ssevents:{<channel>}" (the hash tag puts it in
// the channel's cluster slot), trimmed exactly to HistorySize entries and
// HistoryAge on every publish, and expiring HistoryAge after the last one.
// On a single node, the key "ssevents:lastid[:<prefix>]" holds the newest
// id, so ids are ordered across all topics.
//
// # Messages
//
// Event ids are Redis stream ids, "<ms>-<seq>", the form the embedded
// broker uses. A message on a channel is the fastapi-sse-events envelope
// plus a marker:
//
//	{"ssevents":1,"id":"1732712345678-0","event":"comment_created","data":{...}}
//
// A message without the marker, {"event":"...","data":...} published raw by
// a Python service, is delivered as that named event with no id: it is not
// in the history, and a client that receives it keeps its last ssevents id.
// A message that is neither is dropped and reported to an
// sse.EnvelopeObserver; the first one per channel is logged.
//
// # Classic channels on a cluster
//
// On a Redis Cluster, fan-out uses sharded Pub/Sub, which a plain PUBLISH
// does not reach. With BrokerOptions.ClassicPubSub the broker also
// SUBSCRIBEs the classic channel of each local topic over one connection
// to one node, and treats what arrives there as a single server would:
// foreign envelopes are delivered live without an id, copies of our own
// messages are dropped (they arrive from the shard).
//
// # Presence
//
// Broker implements sse.PresenceBroker: Presence opens a store shared by
// every instance on the same Redis. Each instance writes its own entries
// ("<instance>|<user>" -> streams) of a topic in the topic's hash-tagged
// keys, in background batches of Lua calls that report each join to
// exactly one instance; every instance reaps expired entries (leaves);
// joins and leaves go to one global stream that every instance follows
// (Watch) and that a consumer group turns into the outbox (Next, Ack).
//
// See README.md for the URL forms, the guarantees under faults and on a
// cluster, and the migration path for mixed Python/Go fleets.
//
// It imports the contracts (package sse), internal/streamid and rueidis;
// never the server package or another broker.
package redis
