package memory

import (
	"context"
	"sync"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// Broker is the embedded broker: fan-out inside one process, with a
// bounded history per topic (count and age) for Last-Event-ID resume. It
// needs no external service and is what the URL "memory://" (or an empty
// broker URL) selects.
// Use the Redis broker to fan out across instances.
//
// Its whole history is bounded too, by sse.BrokerOptions.HistoryMaxTopics
// topics and HistoryMaxBytes estimated bytes (EventBytes, TopicBytes): past
// either, the topic published to least recently loses its history first,
// and a resume on it yields a resync for it. A topic with subscribers may
// lose its history that way; its subscribers keep receiving its live
// events. Idempotency records are bounded by IdempotencyMaxRecords, the
// oldest forgotten first.
//
// Ids have the form "<ms>-<seq>" and are ordered across all topics of the
// broker. Ids issued before the broker started are unknown to it: resuming
// from one yields a resync for every topic, since events may have been lost
// with the previous process.
type Broker struct {
	opts sse.BrokerOptions
	now  func() time.Time

	mu     sync.Mutex
	closed bool
	first  streamid.ID // first id this broker may issue; older ids are unknown
	last   streamid.ID
	topics map[string]*memTopic
	order  topicList // the topics with history, most recently published first
	bytes  int       // estimated bytes of the history (EventBytes, TopicBytes)
	forgot forgotten // what forgotten topics lost
	idem   idemRecords

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ sse.Broker = (*Broker)(nil)

// memJanitorInterval is how often expired history is dropped: often enough
// to bound memory, rarely enough to cost nothing.
const memJanitorInterval = 5 * time.Second

// New returns an embedded broker. Zero fields of opts take their
// defaults (see sse.BrokerOptions). Close it to stop its janitor goroutine.
func New(opts sse.BrokerOptions) *Broker {
	b := &Broker{
		opts: opts.WithDefaults(),
		now:  time.Now,
		// Ids start at the millisecond the broker was made in, and Close
		// returns only after the millisecond of the last id: no id of a
		// previous broker (or process) is ever one of this broker's, and
		// resuming from one yields a resync.
		first:  streamid.ID{Ms: uint64(time.Now().UnixMilli())},
		topics: make(map[string]*memTopic),
		stop:   make(chan struct{}),
	}
	b.wg.Add(1)
	go b.janitor()
	return b
}

// Publish implements sse.Broker.
func (b *Broker) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(msg.Topics) == 0 {
		return "", sse.ErrNoTopic
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", sse.ErrBrokerClosed
	}
	var scope idemScope
	if msg.IdempotencyKey != "" {
		scope = idempotencyScope(msg)
		if id, ok := b.idem.lookup(scope, now, b.opts.HistoryAge); ok {
			return id, nil // a retry: published already
		}
	}
	id := streamid.Next(b.last, uint64(now.UnixMilli()))
	if id.Less(b.first) {
		id = b.first
	}
	b.last = id
	ev := sse.Event{ID: id.String(), Name: msg.Event, Time: now}
	// Encoded once for every subscriber and the history; Data then shares
	// the encoding's bytes (see wire.EncodeEvent).
	ev.Wire, ev.Data = wire.EncodeEvent(ev.ID, ev.Name, msg.Data)
	var seen map[*memSub]struct{} // only needed when one event goes to several topics
	if len(msg.Topics) > 1 {
		seen = make(map[*memSub]struct{})
	}
	for _, topic := range msg.Topics {
		t := b.topic(topic)
		ev.Topic = t.name // one copy of the name for the topic's whole history
		b.record(t, ev, id, len(msg.Topics) > 1)
		b.trim(t, now)
		for s := range t.subs {
			if seen != nil {
				if _, dup := seen[s]; dup {
					continue
				}
				seen[s] = struct{}{}
			}
			s.q.Push(ev)
		}
	}
	b.enforceBounds()
	if msg.IdempotencyKey != "" {
		b.idem.add(scope, ev.ID, now, b.opts.IdempotencyMaxRecords)
	}
	return ev.ID, nil
}

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
	now := b.now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, sse.ErrBrokerClosed
	}
	if req.LastEventID != "" {
		s.backlog = b.backlog(s.topics, req.LastEventID, now)
	}
	for _, topic := range s.topics {
		t := b.topic(topic)
		if t.subs == nil {
			t.subs = make(map[*memSub]struct{})
		}
		t.subs[s] = struct{}{}
	}
	// Registered under b.mu so that end, which takes b.mu, sees s.stop.
	s.stop = context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) })
	b.mu.Unlock()
	return s, nil
}

// backlog collects the events after lastID on topics, merged in id order.
// b.mu is held.
func (b *Broker) backlog(topics []string, lastID string, now time.Time) sse.Backlog {
	last, err := streamid.Parse(lastID)
	if err != nil || last.Less(b.first) || b.last.Less(last) {
		// Not an id of ours: from another process or made up. Only a
		// refetch is safe.
		return sse.Backlog{Resync: append([]string(nil), topics...), Cursor: b.cursor()}
	}
	out := sse.Backlog{Cursor: b.cursor()}
	var lists [][]stored
	for _, topic := range topics {
		t, ok := b.topics[topic]
		if !ok {
			if last.Less(b.forgot.watermark(topic)) {
				out.Resync = append(out.Resync, topic)
			}
			continue
		}
		b.trim(t, now)
		if last.Less(t.trimmed) {
			out.Resync = append(out.Resync, topic)
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

// cursor returns the newest id issued, "" before the first. b.mu is held.
func (b *Broker) cursor() string {
	if b.last.IsZero() {
		return ""
	}
	return b.last.String()
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

func (b *Broker) janitor() {
	defer b.wg.Done()
	tick := time.NewTicker(memJanitorInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			b.sweep(b.now())
		}
	}
}

// sweep drops expired history and forgets idle topics.
func (b *Broker) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.idem.expire(now, b.opts.HistoryAge)
	for _, t := range b.topics {
		b.trim(t, now)
		b.forgetIfIdle(t)
	}
}

// Ready implements sse.Broker: the embedded broker is ready until closed.
func (b *Broker) Ready(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return sse.ErrBrokerClosed
	}
	return nil
}

// Close implements sse.Broker.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	last := b.last
	var subs []*memSub
	for _, t := range b.topics {
		for s := range t.subs {
			subs = append(subs, s)
		}
	}
	b.mu.Unlock()
	close(b.stop)
	for _, s := range subs {
		s.end(sse.ErrBrokerClosed)
	}
	b.wg.Wait()
	// A broker made after Close returns starts its ids in a later
	// millisecond than any of ours.
	for uint64(time.Now().UnixMilli()) <= last.Ms {
		time.Sleep(time.Until(time.UnixMilli(int64(last.Ms) + 1)))
	}
	return nil
}

// TopicCount returns the number of topics with subscribers or history.
func (b *Broker) TopicCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics)
}

type memSub struct {
	b       *Broker
	q       *sse.Queue
	topics  []string
	backlog sse.Backlog
	once    sync.Once
	stop    func() bool
}

func (s *memSub) Backlog() sse.Backlog                       { return s.backlog }
func (s *memSub) Notify() <-chan struct{}                    { return s.q.Notify() }
func (s *memSub) SetWake(fn func())                          { s.q.SetWake(fn) }
func (s *memSub) Drain(dst []sse.Event) ([]sse.Event, error) { return s.q.Drain(dst) }
func (s *memSub) Close() error {
	s.end(context.Canceled)
	return nil
}

// end unregisters the subscription and ends its queue with err.
func (s *memSub) end(err error) {
	s.once.Do(func() {
		b := s.b
		b.mu.Lock()
		if s.stop != nil {
			s.stop()
		}
		for _, topic := range s.topics {
			if t, ok := b.topics[topic]; ok {
				delete(t.subs, s)
				b.forgetIfIdle(t)
			}
		}
		b.mu.Unlock()
		s.q.Fail(err)
	})
}
