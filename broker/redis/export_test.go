package redis

import "github.com/ssevents/ssevents/sse"

// SetInFlightHook makes every later publish with an idempotency key call f
// once its key is in flight (held by this instance, and on a cluster
// reserved in Redis), before it publishes. Set it before publishing.
func SetInFlightHook(b *Broker, f func(sse.Message)) { b.inFlightHook = f }
