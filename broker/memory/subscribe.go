package memory

import (
	"context"
	"sync"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// Subscribe implements sse.Broker.
func (b *Broker) Subscribe(ctx context.Context, req sse.SubscribeRequest) (sse.Subscription, error) {
	if len(req.Topics) == 0 {
		return nil, sse.ErrNoTopic
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &memSub{b: b, q: sse.NewQueue(req.QueueSize), topics: sse.UniqueTopics(req.Topics)}
	s.q.OnDrop = req.OnDrop
	s.q.MaxBytes = req.QueueBytes
	if s.q.MaxBytes == 0 {
		s.q.MaxBytes = sse.DefaultQueueBytes
	}
	hashes := make([]uint64, len(s.topics))
	for i, topic := range s.topics {
		hashes[i] = b.hash(topic)
	}
	s.shards = b.shardIndexes(nil, hashes)
	// With its shards locked, every publish to its topics has either
	// delivered and recorded its event (it is in the backlog, or its topic
	// is resynced) or not yet taken its id (it is live): no gap and no
	// duplicate where the two meet.
	b.lock(s.shards)
	defer b.unlock(s.shards)
	if b.closed.Load() {
		return nil, sse.ErrBrokerClosed
	}
	if req.LastEventID != "" {
		s.backlog = b.backlog(s.topics, req.LastEventID, b.now())
	}
	for _, topic := range s.topics {
		sh, h := b.shardOf(topic)
		t := sh.topic(topic, h)
		set := &t.subs
		if len(s.shards) > 1 {
			set = &t.cross
		}
		if *set == nil {
			*set = make(map[*memSub]struct{})
		}
		(*set)[s] = struct{}{}
	}
	// Registered under the shards' locks so that end, which takes them,
	// sees s.stop.
	s.stop = context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) })
	return s, nil
}

// backlog collects the events after lastID on topics, merged in id order.
// The shards of topics are locked.
func (b *Broker) backlog(topics []string, lastID string, now time.Time) sse.Backlog {
	b.mu.Lock()
	newest := b.last
	b.mu.Unlock()
	cursor := ""
	if !newest.IsZero() {
		cursor = newest.String()
	}
	last, err := streamid.Parse(lastID)
	if err != nil || last.Less(b.first) || newest.Less(last) {
		// Not an id of ours: from another process or made up. Only a
		// refetch is safe.
		return sse.Backlog{Resync: sse.ResyncAll(topics, b.first.String()), Cursor: cursor}
	}
	out := sse.Backlog{Cursor: cursor}
	var lists [][]stored
	for _, topic := range topics {
		sh, h := b.shardOf(topic)
		// A damaged span of the data directory may have held events of
		// any topic before lostBefore.
		damaged := last.Less(b.lostBefore)
		t, ok := sh.topics[topic]
		if !ok {
			if mark, evicted := sh.forgot.watermark(h); damaged || last.Less(mark) {
				r := sse.Resync{Topic: topic, Reason: lossReason(evicted)}
				if damaged {
					r.Reason = sse.ResyncDataLost
				}
				out.Resync = append(out.Resync, r)
			}
			continue
		}
		b.trim(t, now)
		if damaged || last.Less(t.trimmed) {
			r := sse.Resync{Topic: topic, Reason: lossReason(last.Less(t.evicted))}
			if damaged || last.Less(t.lost) {
				r.Reason = sse.ResyncDataLost
			}
			if len(t.history) > 0 {
				r.Oldest = t.history[0].ev.ID
			}
			out.Resync = append(out.Resync, r)
		}
		if i := searchAfter(t.history, last); i < len(t.history) {
			lists = append(lists, t.history[i:])
		}
	}
	for s := range streamid.Merge(lists, storedID, copyKey) {
		out.Events = append(out.Events, s.ev)
	}
	return out
}

// lossReason is the reason of a resync for events dropped from a topic's
// history: by eviction, or by the topic's own count and age bounds.
func lossReason(evicted bool) sse.ResyncReason {
	if evicted {
		return sse.ResyncEvicted
	}
	return sse.ResyncHistoryExceeded
}

// searchAfter returns the index of the first event of history after last.
func searchAfter(history []stored, last streamid.ID) int {
	lo, hi := 0, len(history)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !last.Less(history[m].id) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

type memSub struct {
	b       *Broker
	q       *sse.Queue
	topics  []string
	shards  []int // the shards of topics, in increasing order
	backlog sse.Backlog
	once    sync.Once
	stop    func() bool
}

func (s *memSub) Backlog() sse.Backlog                       { return s.backlog }
func (s *memSub) Notify() <-chan struct{}                    { return s.q.Notify() }
func (s *memSub) SetWake(fn func())                          { s.q.SetWake(fn) }
func (s *memSub) SetUnaccepted(n int)                        { s.q.SetUnaccepted(n) }
func (s *memSub) SetAccepting(fn func() bool)                { s.q.SetAccepting(fn) }
func (s *memSub) Err() error                                 { return s.q.Err() }
func (s *memSub) Drain(dst []sse.Event) ([]sse.Event, error) { return s.q.Drain(dst) }
func (s *memSub) Close() error {
	s.end(context.Canceled)
	return nil
}

// end unregisters the subscription and ends its queue with err.
func (s *memSub) end(err error) {
	s.once.Do(func() {
		b := s.b
		b.lock(s.shards)
		if s.stop != nil {
			s.stop()
		}
		for _, topic := range s.topics {
			sh, h := b.shardOf(topic)
			if t, ok := sh.topics[topic]; ok {
				delete(t.subs, s)
				delete(t.cross, s)
				sh.forgetIfIdle(t, h)
			}
		}
		b.unlock(s.shards)
		s.q.Fail(err)
	})
}
