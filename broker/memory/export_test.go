package memory

import (
	"fmt"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// ShardIndex returns the index of the shard that holds topic, so that the
// tests can pick topics of the same or of different shards.
func ShardIndex(b *Broker, topic string) int { return b.shardIndex(topic) }

// OnAwaitingTurn makes every publish to subscriptions across shards call
// f with its turn (closed once the publish before it has delivered to its
// subscriptions across shards) just before it waits for it. Call it before
// anything is published on b.
func OnAwaitingTurn(b *Broker, f func(turn <-chan struct{})) { b.awaitingTurn = f }

// CheckAccounting returns an error unless the broker's account of its
// history (bytes, topics in the eviction order) matches its topics. Call it
// when nothing else runs on b.
func CheckAccounting(b *Broker) error {
	bytes, listed := 0, 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for _, t := range sh.topics {
			n := 0
			if len(t.history) > 0 {
				n = TopicBytes(t.name)
				listed++
			}
			for _, s := range t.history {
				n += EventBytes(s.ev)
			}
			if n != t.bytes {
				sh.mu.Unlock()
				return fmt.Errorf("topic %s: %d bytes counted, %d held", t.name, t.bytes, n)
			}
			if t.listed != (len(t.history) > 0) {
				sh.mu.Unlock()
				return fmt.Errorf("topic %s: in the eviction order %v with %d events", t.name, t.listed, len(t.history))
			}
			bytes += n
		}
		sh.mu.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if got := b.bytes.Load(); got != int64(bytes) {
		return fmt.Errorf("%d bytes counted, %d held", got, bytes)
	}
	if int(b.order.len.Load()) != listed {
		return fmt.Errorf("%d topics in the eviction order, %d with history", b.order.len.Load(), listed)
	}
	return nil
}

// SetInFlightHook makes every later publish with an idempotency key call f
// once its key is reserved (in flight), before it publishes. Set it before
// publishing.
func SetInFlightHook(b *Broker, f func(sse.Message)) { b.inFlightHook = f }

// SetClock makes b read the time from now, for ids and history ages.
func SetClock(b *Broker, now func() time.Time) { b.now = now }

// OpenWithClock is Open with the clock now, read from the start (the
// records read back are aged by it).
func OpenWithClock(opts sse.BrokerOptions, now func() time.Time) (*Broker, error) {
	return open(opts, now)
}

// MaintainLog runs the janitor's round on the data directory now.
func MaintainLog(b *Broker) { b.sweep(b.now()); b.maintainLog() }
