package memory

import (
	"time"

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
	name    string
	subs    map[*memSub]struct{} // nil until the first subscriber
	history []stored             // oldest first; bounded by HistorySize
	trimmed streamid.ID          // greatest id dropped from history
	bytes   int                  // EventBytes of history, plus TopicBytes while it is not empty

	// The eviction order: topics with history, most recently published
	// first (see topicList).
	prev, next *memTopic
	listed     bool
}

// stored is an event kept in a topic's history.
type stored struct {
	ev    sse.Event
	id    streamid.ID // ev.ID parsed
	multi bool        // published to several topics: the other topics hold copies
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
	len         int
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
	l.len--
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
	l.len++
}

// topic returns the state of topic, creating it. A new topic starts with
// the watermark of the forgotten topics: it may be one of them, so events
// up to it may have been lost for it. b.mu is held.
func (b *Broker) topic(name string) *memTopic {
	t, ok := b.topics[name]
	if !ok {
		t = &memTopic{name: name, trimmed: b.forgot.watermark(name)}
		b.topics[name] = t
	}
	return t
}

// record appends ev to t's history, counts it, and makes t the most
// recently published topic. b.mu is held.
func (b *Broker) record(t *memTopic, ev sse.Event, id streamid.ID, multi bool) {
	if len(t.history) == 0 {
		t.bytes += TopicBytes(t.name)
		b.bytes += TopicBytes(t.name)
	}
	t.history = append(t.history, stored{ev: ev, id: id, multi: multi})
	n := EventBytes(ev)
	t.bytes += n
	b.bytes += n
	b.order.pushFront(t)
}

// trim drops history past the count and age bounds. b.mu is held.
func (b *Broker) trim(t *memTopic, now time.Time) {
	n := 0
	if over := len(t.history) - b.opts.HistorySize; over > 0 {
		n = over
	}
	cutoff := now.Add(-b.opts.HistoryAge)
	for n < len(t.history) && t.history[n].ev.Time.Before(cutoff) {
		n++
	}
	b.dropOldest(t, n)
}

// dropOldest drops the n oldest events of t's history, and takes t out of
// the eviction order when none is left. b.mu is held.
func (b *Broker) dropOldest(t *memTopic, n int) {
	if n == 0 {
		return
	}
	t.trimmed = t.history[n-1].id
	freed := 0
	for _, s := range t.history[:n] {
		freed += EventBytes(s.ev)
	}
	clear(t.history[:n])
	t.history = t.history[n:]
	if len(t.history) == 0 {
		t.history = nil // let the backing array go
		freed = t.bytes
		b.order.remove(t)
	}
	t.bytes -= freed
	b.bytes -= freed
}

// enforceBounds evicts history until the topics with history and their
// bytes are within HistoryMaxTopics and HistoryMaxBytes: the least recently
// published topic loses all its history; when only one topic is left over
// the byte bound, its oldest events go. b.mu is held.
func (b *Broker) enforceBounds() {
	for b.order.len > b.opts.HistoryMaxTopics || (b.bytes > b.opts.HistoryMaxBytes && b.order.len > 0) {
		t := b.order.back
		if b.order.len > b.opts.HistoryMaxTopics || b.order.len > 1 {
			b.dropOldest(t, len(t.history))
		} else {
			b.dropOldest(t, 1)
		}
		b.forgetIfIdle(t)
	}
}

// forgetIfIdle deletes t, which has neither history nor subscribers, from
// the topics, remembering its trimmed watermark: a resume on it from an
// earlier id is a resync. b.mu is held.
func (b *Broker) forgetIfIdle(t *memTopic) {
	if len(t.history) != 0 || len(t.subs) != 0 {
		return
	}
	b.forgot.remember(t.name, t.trimmed)
	delete(b.topics, t.name)
}

// forgottenSlots is the size of the table of forgotten topics' watermarks:
// 1 MiB, allocated when the first topic is forgotten. A resume on a topic
// whose slot another forgotten topic shares may be told to resync needlessly;
// with fewer topics forgotten than slots, that is rare.
const forgottenSlots = 1 << 16

// forgotten remembers, for topics forgotten by the broker (their history
// evicted or expired, with no subscriber left), the greatest id they lost:
// a resume on one from an earlier id is a resync. It keeps the greatest
// watermark per slot of a fixed table, by a hash of the topic, so its
// memory does not grow with the topics forgotten, and it never
// underestimates a topic's watermark (so a loss is never missed).
type forgotten struct {
	slots []streamid.ID
}

// slot returns the index of topic's slot (FNV-1a).
func (f *forgotten) slot(topic string) int {
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= 16777619
	}
	return int(h % forgottenSlots)
}

// remember records that topic lost the events up to id.
func (f *forgotten) remember(topic string, id streamid.ID) {
	if id.IsZero() {
		return
	}
	if f.slots == nil {
		f.slots = make([]streamid.ID, forgottenSlots)
	}
	if i := f.slot(topic); f.slots[i].Less(id) {
		f.slots[i] = id
	}
}

// watermark returns an id at or after the greatest id topic lost while
// forgotten; zero when none.
func (f *forgotten) watermark(topic string) streamid.ID {
	if f.slots == nil {
		return streamid.ID{}
	}
	return f.slots[f.slot(topic)]
}
