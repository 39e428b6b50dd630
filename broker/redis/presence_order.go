package redis

import (
	"cmp"
	"slices"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// On a cluster, two instances that found changes of one topic append them
// to the events stream each in its own round trip, so the stream may hold
// them in the other order. Each change carries its number in the topic's
// sequence (see luaPresence), and the reader holds a change that comes
// early until the ones before it arrive, or for at most presenceHold (one
// that never comes: its instance died before appending it).

// presenceHold is how long a change waits for the ones numbered before it:
// far above the round trip that separates two racing appends.
const presenceHold = time.Second

// presenceIdleTopic is how long the reader remembers the sequence of a
// topic without changes.
const presenceIdleTopic = 10 * time.Minute

// sequenced is a change with its number in its topic's sequence.
type sequenced struct {
	ev  sse.PresenceEvent
	seq int64
	at  time.Time // when it arrived
}

// topicSequence is where the reader is in one topic's sequence.
type topicSequence struct {
	next int64       // the number expected next
	held []sequenced // early changes, in no order
	seen time.Time   // the last change
}

// sequencer puts each topic's changes back in order. It is used by the
// reader goroutine only.
type sequencer struct {
	topics map[string]*topicSequence
	hold   time.Duration
}

func newSequencer(hold time.Duration) *sequencer {
	return &sequencer{topics: make(map[string]*topicSequence), hold: hold}
}

// push takes a change read from the stream and returns the changes now
// due, in order. A change without a number (seq 0), the first of a topic
// and one numbered before the expected one (a sequence that started over
// after Redis lost it, or one given up on) are due at once.
func (q *sequencer) push(ev sse.PresenceEvent, seq int64, now time.Time) []sse.PresenceEvent {
	if seq <= 0 {
		return []sse.PresenceEvent{ev}
	}
	st := q.topics[ev.Topic]
	if st == nil {
		st = &topicSequence{next: seq}
		q.topics[ev.Topic] = st
	}
	st.seen = now
	switch {
	case seq < st.next:
		if seq == 1 {
			st.next = 2 // started over
		}
		return []sse.PresenceEvent{ev}
	case seq > st.next:
		st.held = append(st.held, sequenced{ev, seq, now})
		return nil
	}
	st.next++
	return q.release(st, []sse.PresenceEvent{ev})
}

// release appends to out the held changes that are next in st's sequence.
func (q *sequencer) release(st *topicSequence, out []sse.PresenceEvent) []sse.PresenceEvent {
	slices.SortFunc(st.held, bySeq)
	i := 0
	for ; i < len(st.held) && st.held[i].seq <= st.next; i++ {
		if st.held[i].seq == st.next {
			st.next++
		}
		out = append(out, st.held[i].ev)
	}
	st.held = st.held[i:]
	return out
}

func bySeq(a, b sequenced) int { return cmp.Compare(a.seq, b.seq) }

// expire gives up on the missing changes that the held ones waited for
// longer than the hold, and returns the held ones that are then due, in
// order; it forgets topics idle for presenceIdleTopic.
func (q *sequencer) expire(now time.Time) []sse.PresenceEvent {
	var out []sse.PresenceEvent
	for topic, st := range q.topics {
		for len(st.held) > 0 {
			first := slices.MinFunc(st.held, bySeq)
			if now.Sub(first.at) < q.hold {
				break
			}
			st.next = first.seq
			out = q.release(st, out)
		}
		if len(st.held) == 0 && now.Sub(st.seen) > presenceIdleTopic {
			delete(q.topics, topic)
		}
	}
	return out
}
