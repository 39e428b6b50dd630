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

// Sequencer is the events reader's per-topic reordering of presence
// changes (see sequencer).
type Sequencer struct{ q *sequencer }

// NewSequencer returns a sequencer that holds an early change for hold.
func NewSequencer(hold time.Duration) *Sequencer { return &Sequencer{newSequencer(hold)} }

// Push takes a change with its number and returns the changes due.
func (s *Sequencer) Push(ev sse.PresenceEvent, seq int64, now time.Time) []sse.PresenceEvent {
	return s.q.push(ev, seq, now)
}

// Expire returns the held changes whose wait is over.
func (s *Sequencer) Expire(now time.Time) []sse.PresenceEvent { return s.q.expire(now) }

// SetPresencePrune makes Next look every `every` for outbox consumers idle
// for idle, holding nothing, to remove. Set it before calling Next.
func SetPresencePrune(st sse.PresenceStore, every, idle time.Duration) {
	s := st.(*presenceStore)
	s.pruneEvery, s.consumerIdle = every, idle
}
