package memory

import (
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// The estimate of the history's memory that sse.BrokerOptions.HistoryMaxBytes
// bounds. They were measured on amd64 (go test -run '^$' -bench
// HistoryMemory ./broker/memory/, see the README) and round the
// measurements up, so that the bound holds for the live heap.
const (
	// EventOverhead is what one event in a topic's history costs besides
	// the bytes of its data, name and id: its slot in the history (with
	// the slack of a growing slice) and the allocations of its id and
	// data.
	EventOverhead = 176
	// TopicOverhead is what one topic with history costs besides the
	// bytes of its name: its entry in the topic index, its state and its
	// place in the eviction order.
	TopicOverhead = 128
)

// EventBytes is the estimated memory of ev in a topic's history: the
// length of its data, name and id plus EventOverhead. Its topic is not
// counted: every event of a topic shares the topic's name.
func EventBytes(ev sse.Event) int {
	return len(ev.Data) + len(ev.Name) + len(ev.ID) + EventOverhead
}

// TopicBytes is the estimated memory of a topic with history, without its
// events: the length of its name plus TopicOverhead.
func TopicBytes(name string) int { return len(name) + TopicOverhead }

type memTopic struct {
	name string
	// Guarded by the lock of the topic's shard.
	subs    map[*memSub]struct{} // subscriptions within this shard; nil until the first
	cross   map[*memSub]struct{} // subscriptions across shards (see Broker); nil until the first
	history []stored             // oldest first; bounded by HistorySize
	trimmed streamid.ID          // greatest id dropped from history
	evicted streamid.ID          // greatest id dropped by eviction (enforceBounds), not by trim
	lost    streamid.ID          // greatest id lost to damage of the data directory
	bytes   int                  // EventBytes of history, plus TopicBytes while it is not empty

	// The eviction order, guarded by Broker.mu: topics with history, most
	// recently published first (see topicList). A topic is in it exactly
	// when its history is not empty, whenever its shard is unlocked.
	prev, next *memTopic
	listed     bool
}

// stored is an event kept in a topic's history.
type stored struct {
	ev    sse.Event
	id    streamid.ID     // ev.ID parsed
	multi bool            // published to several topics: the other topics hold copies
	seg   *seglog.Segment // the segment of its record, with a data directory
}

func storedID(s stored) streamid.ID { return s.id }

// copyKey tells the copies of a multi-topic event (they share its id)
// apart from other events; it is zero for an event without copies.
func copyKey(s stored) streamid.ID {
	if s.multi {
		return s.id
	}
	return streamid.ID{}
}

// topicList is the eviction order of the topics with history: a doubly
// linked list through the topics themselves, most recently published at
// the front, so that a publish moves its topic in O(1) and eviction takes
// from the back.
type topicList struct {
	front, back *memTopic
	len         atomic.Int64 // written under Broker.mu; read without it to see that the bounds hold
}

// remove takes t out of the list, if it is in it.
func (l *topicList) remove(t *memTopic) {
	if !t.listed {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.front = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		l.back = t.prev
	}
	t.prev, t.next, t.listed = nil, nil, false
	l.len.Add(-1)
}

// pushFront puts t at the front of the list, moving it if it is in it.
func (l *topicList) pushFront(t *memTopic) {
	if l.front == t {
		return
	}
	l.remove(t)
	t.next = l.front
	if l.front != nil {
		l.front.prev = t
	} else {
		l.back = t
	}
	l.front, t.listed = t, true
	l.len.Add(1)
}

// record appends ev to t's history and counts it; the caller has made t
// the most recently published topic (under b.mu). t's shard is locked.
func (b *Broker) record(t *memTopic, ev sse.Event, id streamid.ID, multi bool, seg *seglog.Segment) {
	n := EventBytes(ev)
	if len(t.history) == 0 {
		n += TopicBytes(t.name)
	}
	if seg != nil {
		seg.Ref(1)
	}
	t.history = append(t.history, stored{ev: ev, id: id, multi: multi, seg: seg})
	t.bytes += n
	b.bytes.Add(int64(n))
}

// trim drops history past the count and age bounds. t's shard is locked.
func (b *Broker) trim(t *memTopic, now time.Time) {
	n := 0
	if over := len(t.history) - b.opts.HistorySize; over > 0 {
		n = over
	}
	cutoff := now.Add(-b.opts.HistoryAge)
	for n < len(t.history) && t.history[n].ev.Time.Before(cutoff) {
		n++
	}
	b.dropOldest(t, n, false)
}

// dropOldest drops the n oldest events of t's history, and takes t out of
// the eviction order when none is left; evicted says they go to keep the
// whole history within its bounds, not t's. t's shard is locked; b.mu is
// not.
func (b *Broker) dropOldest(t *memTopic, n int, evicted bool) {
	if n == 0 {
		return
	}
	t.trimmed = t.history[n-1].id
	if evicted {
		t.evicted = t.trimmed
	}
	freed := 0
	for _, s := range t.history[:n] {
		freed += EventBytes(s.ev)
		if s.seg != nil {
			s.seg.Ref(-1)
		}
	}
	clear(t.history[:n])
	t.history = t.history[n:]
	if len(t.history) == 0 {
		t.history = nil // let the backing array go
		freed = t.bytes
		b.mu.Lock()
		b.order.remove(t)
		b.mu.Unlock()
	}
	t.bytes -= freed
	b.bytes.Add(-int64(freed))
}

// enforceBounds evicts history until the topics with history and their
// bytes are within HistoryMaxTopics and HistoryMaxBytes: the least recently
// published topic loses all its history; when only one topic is left over
// the byte bound, its oldest events go. It holds one shard's lock at a time
// (no shard lock is held when it is called), and b.mu only to read the
// eviction order.
func (b *Broker) enforceBounds() {
	for {
		if !b.overBounds() {
			return // the common case, without b.mu
		}
		b.mu.Lock()
		t := b.evictable()
		b.mu.Unlock()
		if t == nil {
			return
		}
		sh, h := b.shardOf(t.name)
		sh.mu.Lock()
		n := 0
		b.mu.Lock()
		// Between the two locks t may have been published to again, or
		// lost its history: decide on what holds now.
		if b.evictable() == t {
			if listed := b.order.len.Load(); listed > int64(b.opts.HistoryMaxTopics) || listed > 1 {
				n = len(t.history)
			} else {
				n = 1
			}
		}
		b.mu.Unlock()
		if n > 0 {
			b.dropOldest(t, n, true)
			sh.forgetIfIdle(t, h)
		}
		sh.mu.Unlock()
	}
}

// evictable returns the topic that loses history next when the history is
// over a bound, nil when it is within them. b.mu is held.
func (b *Broker) evictable() *memTopic {
	if b.overBounds() {
		return b.order.back
	}
	return nil
}

// overBounds reports whether the history is over HistoryMaxTopics or
// HistoryMaxBytes.
func (b *Broker) overBounds() bool {
	n := b.order.len.Load()
	return n > int64(b.opts.HistoryMaxTopics) || (n > 0 && b.bytes.Load() > int64(b.opts.HistoryMaxBytes))
}

// forgottenSlots is the size of the table of forgotten topics' watermarks:
// 1 MiB, divided among the shards, each allocating its part when it first
// forgets a topic. A resume on a topic whose slot another forgotten topic
// shares may be told to resync needlessly; with fewer topics forgotten than
// slots, that is rare.
const forgottenSlots = 1 << 16

// forgotten remembers, for the topics of one shard forgotten by the broker
// (their history evicted or expired, with no subscriber left), the greatest
// id they lost: a resume on one from an earlier id is a resync. It keeps
// the greatest watermark per slot of a fixed table, by a hash of the topic,
// so its memory does not grow with the topics forgotten, and it never
// underestimates a topic's watermark (so a loss is never missed).
type forgotten struct {
	size int // slots once allocated: forgottenSlots / the number of shards
	// base is the watermark of every topic: the floor of a recovered data
	// directory (events up to it may be gone for any topic).
	base  streamid.ID
	slots []streamid.ID
	// evicted tells, per slot, that its watermark was lost to eviction
	// (the resync reason), not to the topic's own bounds.
	evicted []bool
}

// slot returns the index of the slot of the topic of hash h: its high
// bits, since the low ones pick the shard.
func (f *forgotten) slot(h uint64) int { return int((h >> 32) % uint64(f.size)) }

// remember records that the topic of hash h lost the events up to id, by
// eviction or not.
func (f *forgotten) remember(h uint64, id streamid.ID, evicted bool) {
	if id.IsZero() {
		return
	}
	if f.slots == nil {
		f.slots = make([]streamid.ID, f.size)
		f.evicted = make([]bool, f.size)
	}
	if i := f.slot(h); f.slots[i].Less(id) {
		f.slots[i], f.evicted[i] = id, evicted
	}
}

// watermark returns an id at or after the greatest id the topic of hash h
// lost while forgotten, zero when none, and whether eviction lost it.
func (f *forgotten) watermark(h uint64) (streamid.ID, bool) {
	if f.slots == nil {
		return f.base, false
	}
	i := f.slot(h)
	if f.slots[i].Less(f.base) {
		return f.base, false
	}
	return f.slots[i], f.evicted[i]
}
