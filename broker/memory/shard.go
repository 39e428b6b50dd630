package memory

import (
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
)

// shard holds the topics whose hash picks it: their subscribers and their
// history, under its own lock, so that publishes to topics of different
// shards, and their fan-outs, run in parallel.
type shard struct {
	mu     sync.Mutex
	topics map[string]*memTopic
	forgot forgotten // the watermarks of this shard's forgotten topics
	// Keeps the locks of neighbouring shards off one cache line, so that
	// publishers on different shards do not slow each other down.
	_ [64]byte
}

// Bounds of the number of shards: at least minShards, so that two busy
// topics rarely share a shard even on a small machine; 8 per processor
// beyond that, rounded up to a power of two so that a mask picks the shard;
// at most maxShards, which divides forgottenSlots.
const (
	minShards = 64
	maxShards = 1024
)

// shardCount returns the number of shards for this machine.
func shardCount() int {
	n := minShards
	for n < 8*runtime.GOMAXPROCS(0) && n < maxShards {
		n <<= 1
	}
	return n
}

// hash returns the hash of topic that picks its shard (its low bits) and
// its slot among the shard's forgotten watermarks (its high bits).
func (b *Broker) hash(topic string) uint64 { return maphash.String(b.seed, topic) }

// shardIndex returns the index of the shard that holds topic.
func (b *Broker) shardIndex(topic string) int { return int(b.hash(topic) & b.mask) }

// shardOf returns the shard that holds topic and topic's hash.
func (b *Broker) shardOf(topic string) (*shard, uint64) {
	h := b.hash(topic)
	return &b.shards[h&b.mask], h
}

// shardIndexes appends to dst the indexes of the shards that hold the
// topics of hashes, in increasing order and each once: the order in which
// they are locked, so that two callers that lock several shards never wait
// for each other in a cycle.
func (b *Broker) shardIndexes(dst []int, hashes []uint64) []int {
	for _, h := range hashes {
		dst = append(dst, int(h&b.mask))
	}
	if len(dst) > 1 {
		slices.Sort(dst)
		dst = slices.Compact(dst)
	}
	return dst
}

// lock locks the shards of indexes, which are in increasing order.
func (b *Broker) lock(indexes []int) {
	for _, i := range indexes {
		b.shards[i].mu.Lock()
	}
}

// unlock unlocks the shards of indexes.
func (b *Broker) unlock(indexes []int) {
	for _, i := range indexes {
		b.shards[i].mu.Unlock()
	}
}

// topic returns the state of topic, creating it; h is topic's hash. A new
// topic starts with the watermark of the forgotten topics: it may be one of
// them, so events up to it may have been lost for it. sh.mu is held.
func (sh *shard) topic(name string, h uint64) *memTopic {
	t, ok := sh.topics[name]
	if !ok {
		t = &memTopic{name: name}
		var evicted bool
		if t.trimmed, evicted = sh.forgot.watermark(h); evicted {
			t.evicted = t.trimmed
		}
		sh.topics[name] = t
	}
	return t
}

// forgetIfIdle deletes t, which has neither history nor subscribers, from
// the shard's topics, remembering its trimmed watermark: a resume on it from
// an earlier id is a resync. h is t's hash. sh.mu is held.
func (sh *shard) forgetIfIdle(t *memTopic, h uint64) {
	if len(t.history) != 0 || len(t.subs) != 0 || len(t.cross) != 0 || !t.lost.IsZero() {
		return // a topic that lost events to damage keeps its reason
	}
	sh.forgot.remember(h, t.trimmed, !t.trimmed.IsZero() && t.trimmed == t.evicted)
	delete(sh.topics, t.name)
}
