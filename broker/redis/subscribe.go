package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// recentMulti is how many ids of events published to several topics a
// subscription with several topics remembers, to drop the copies that
// arrive on its other topics: the copies arrive back to back, so a few
// dozen is plenty.
const recentMulti = 32

// downFor is how long a subscriber connection must have been down for
// Subscribe to fail at once rather than wait for it: longer than a
// reconnection takes when Redis is there.
const downFor = 4 * minBackoff

// subscription implements sse.Subscription on the shared topics.
type subscription struct {
	b       *Broker
	q       *sse.Queue
	topics  []string
	backlog sse.Backlog
	once    sync.Once

	// Guarded by b.mu.
	starting bool                   // backlog being read: live events wait in early
	early    []delivery             // live events that arrived while starting
	floors   map[string]streamid.ID // per topic: live events up to here are in the backlog
	recent   []delivery             // multi-topic events delivered, oldest first
	stop     func() bool
}

var (
	_ sse.Subscription = (*subscription)(nil)
	_ sse.Waker        = (*subscription)(nil) // served without a goroutine by the SSE handler
	_ sse.Unaccepting  = (*subscription)(nil) // judged by what its client has not accepted
)

func (s *subscription) Backlog() sse.Backlog                       { return s.backlog }
func (s *subscription) Notify() <-chan struct{}                    { return s.q.Notify() }
func (s *subscription) SetWake(fn func())                          { s.q.SetWake(fn) }
func (s *subscription) SetUnaccepted(n int)                        { s.q.SetUnaccepted(n) }
func (s *subscription) SetAccepting(fn func() bool)                { s.q.SetAccepting(fn) }
func (s *subscription) Err() error                                 { return s.q.Err() }
func (s *subscription) Drain(dst []sse.Event) ([]sse.Event, error) { return s.q.Drain(dst) }

// Close implements sse.Subscription.
func (s *subscription) Close() error {
	s.end(context.Canceled)
	return nil
}

// offer hands a live event to the subscription. b.mu is held.
func (s *subscription) offer(d delivery) {
	if s.starting {
		s.early = append(s.early, d)
		return
	}
	if d.hasID {
		if f, ok := s.floors[d.ev.Topic]; ok && !f.Less(d.id) {
			return // part of the backlog
		}
		if d.mid != "" && len(s.topics) > 1 {
			if slices.ContainsFunc(s.recent, d.sameEvent) {
				return // the copy from another of our topics
			}
			if len(s.recent) == recentMulti {
				copy(s.recent, s.recent[1:])
				s.recent = s.recent[:recentMulti-1]
			}
			s.recent = append(s.recent, d)
		}
	}
	s.q.Push(d.ev)
}

// end unregisters the subscription, unsubscribing topics left without
// local subscribers, and ends its queue with err.
func (s *subscription) end(err error) {
	s.once.Do(func() {
		b := s.b
		var pokes []*subscriberConn
		b.mu.Lock()
		if s.stop != nil {
			s.stop()
		}
		for _, name := range s.topics {
			t := b.topics[name]
			if t == nil {
				continue
			}
			if _, ok := t.subs[s]; !ok {
				continue
			}
			delete(t.subs, s)
			if len(t.subs) == 0 {
				delete(b.topics, name)
				delete(b.channels, t.channel)
				if t.conn.want[t.channel] == t {
					delete(t.conn.want, t.channel)
				}
				pokes = append(pokes, t.conn)
				if b.classic != nil {
					b.classic.removeLocked(t.channel)
				}
			}
		}
		s.early = nil
		b.mu.Unlock()
		for _, l := range pokes {
			l.poke()
		}
		if b.classic != nil && len(pokes) > 0 {
			b.classic.poke()
		}
		s.q.Fail(err)
	})
}

// Subscribe implements sse.Broker. It returns once every topic is
// subscribed in Redis, so an event published after it returns is
// delivered. While Redis is unreachable it returns an error wrapping
// sse.ErrUnavailable within the timeout; while Redis answers, it waits
// for its turn however busy Redis is (see health). Subscriptions that
// resume on the same topics from the same id share one backlog, read
// once (see resumeReads): its events are shared and read-only.
func (b *Broker) Subscribe(ctx context.Context, req sse.SubscribeRequest) (sse.Subscription, error) {
	if len(req.Topics) == 0 {
		return nil, sse.ErrNoTopic
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{b: b, q: sse.NewQueue(req.QueueSize), topics: dedupe(req.Topics)}
	s.q.OnDrop = req.OnDrop
	s.q.MaxBytes = req.QueueBytes
	if s.q.MaxBytes == 0 {
		s.q.MaxBytes = sse.DefaultQueueBytes
	}
	s.starting = req.LastEventID != ""
	var waits []readyWait
	var pokes []*subscriberConn
	var down error
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, sse.ErrBrokerClosed
	}
	for _, name := range s.topics {
		t := b.topics[name]
		if t == nil {
			var err error
			if t, err = b.newTopicLocked(name); err != nil {
				b.mu.Unlock()
				s.end(err)
				return nil, err
			}
			pokes = append(pokes, t.conn)
		}
		t.subs[s] = struct{}{}
		waits = append(waits, readyWait{t.ready, &t.conn.health})
		if b.classic != nil {
			waits = append(waits, readyWait{b.classic.addLocked(t.channel), &b.classic.health})
		}
		if l := t.conn; !l.up && l.err != nil && time.Since(l.downSince) > downFor {
			down = l.err // not a reconnection in passing: an outage
		}
	}
	b.mu.Unlock()
	for _, l := range pokes {
		l.poke()
	}
	if b.classic != nil {
		b.classic.poke()
	}
	if down != nil {
		s.end(sse.ErrUnavailable)
		return nil, b.unavailable(ctx, "subscribe", down)
	}
	if err := b.waitReady(ctx, waits); err != nil {
		s.end(err)
		return nil, err
	}
	if req.LastEventID != "" {
		bl, floors, err := b.resume(ctx, s.topics, req.LastEventID)
		if err != nil {
			s.end(err)
			return nil, b.unavailable(ctx, "resume", err)
		}
		b.mu.Lock()
		s.backlog, s.floors, s.starting = bl, floors, false
		for _, d := range s.early {
			s.offer(d)
		}
		s.early = nil
		b.mu.Unlock()
	}
	b.mu.Lock()
	s.stop = context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) })
	b.mu.Unlock()
	return s, nil
}

// newTopicLocked registers a topic and hands it to its node's subscriber connection. b.mu
// is held.
func (b *Broker) newTopicLocked(name string) (*topic, error) {
	ch := b.channel(name)
	addr := ""
	client := b.client
	if b.cfg.Cluster {
		addr = b.slots[slot(ch)]
		node, ok := b.client.Nodes()[addr]
		if !ok {
			return nil, fmt.Errorf("%w: no cluster node serves the slot of topic %q", sse.ErrUnavailable, name)
		}
		client = node
	}
	l := b.conns[addr]
	if l == nil {
		l = b.newSubscriberConn(addr, client)
		b.conns[addr] = l
	}
	t := &topic{name: name, channel: ch, key: streamKey(ch), conn: l,
		subs: make(map[*subscription]struct{}), ready: make(chan struct{})}
	b.topics[name] = t
	b.channels[ch] = t
	l.want[ch] = t
	return t, nil
}

// dedupe returns topics without repeats, in first-seen order.
func dedupe(topics []string) []string {
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
