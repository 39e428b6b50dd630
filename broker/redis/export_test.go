package redis

import (
	"time"

	"github.com/ssevents/ssevents/sse"
)

// SetInFlightHook makes every later publish with an idempotency key call f
// once its key is in flight (held by this instance, and on a cluster
// reserved in Redis), before it publishes. Set it before publishing.
func SetInFlightHook(b *Broker, f func(sse.Message)) { b.inFlightHook = f }

// AbandonPresence stops a presence store's loops without ending its
// entries or acking what it handed out, as a killed process (kill -9)
// would leave them.
func AbandonPresence(st sse.PresenceStore) { st.(*presenceStore).abandon() }

// SetPresenceClaimIdle sets how long an outbox change stays unacked before
// another Next takes it over. Set it before calling Next.
func SetPresenceClaimIdle(st sse.PresenceStore, d time.Duration) { st.(*presenceStore).claimIdle = d }
