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
// sse.ErrUnavailable within the timeout.
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
	var readies []chan struct{}
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
		readies = append(readies, t.ready)
		if b.classic != nil {
			readies = append(readies, b.classic.addLocked(t.channel))
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
	if err := b.waitReady(ctx, readies); err != nil {
		s.end(err)
		return nil, err
	}
	if req.LastEventID != "" {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
		bl, floors, err := b.readBacklog(rctx, s.topics, req.LastEventID)
		cancel()
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

// waitReady waits until every topic has been subscribed and synced once.
func (b *Broker) waitReady(ctx context.Context, readies []chan struct{}) error {
	timer := time.NewTimer(b.cfg.Timeout)
	defer timer.Stop()
	for _, r := range readies {
		select {
		case <-r:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return sse.ErrBrokerClosed
		case <-timer.C:
			return b.unavailable(ctx, "subscribe", fmt.Errorf("not subscribed within %v", b.cfg.Timeout))
		}
	}
	return nil
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

// readBacklog reads the events after lastID on topics and where each
// topic's live events begin (the floors), atomically on a single node.
func (b *Broker) readBacklog(ctx context.Context, topics []string, lastID string) (sse.Backlog, map[string]streamid.ID, error) {
	last, perr := streamid.Parse(lastID)
	start := "(" + last.String()
	if perr != nil {
		start = "+"
	}
	sts, err := b.readStates(ctx, topics, start)
	if err != nil {
		return sse.Backlog{}, nil, err
	}
	var streams []streamState
	for _, st := range sts {
		streams = append(streams, st.streams...)
	}
	floors := make(map[string]streamid.ID, len(topics))
	var cursor streamid.ID
	for i, t := range topics {
		f := streams[i].last
		if !b.cfg.Cluster {
			f = sts[0].counter
		}
		floors[t] = f
		if cursor.Less(f) {
			cursor = f
		}
	}
	var bl sse.Backlog
	if !cursor.IsZero() {
		bl.Cursor = cursor.String()
	}
	nowMs := uint64(sts[0].now.UnixMilli())
	unknown := perr != nil || last.Ms > nowMs+uint64(time.Second.Milliseconds())
	if !sts[0].hasCtr || sts[0].counter.Less(last) || !sts[0].hasGen || last.Less(sts[0].genesis) {
		// Not issued by this dataset: never issued here, or issued by a
		// dataset that is gone (a restart without persistence, FLUSHALL,
		// a failover that lost writes). Only a refetch is safe.
		unknown = true
	}
	if unknown {
		genesis, err := b.genesis(ctx, sts[0])
		if err != nil {
			return sse.Backlog{}, nil, err
		}
		if bl.Cursor == "" {
			// Nothing issued yet by the dataset but its genesis: resuming
			// from it is resuming from now.
			bl.Cursor = genesis
		}
		bl.Resync = sse.ResyncAll(topics, genesis)
		return bl, floors, nil
	}
	b.history(&bl, topics, streams, last, nowMs)
	return bl, floors, nil
}

// genesis returns the first id of the dataset Redis holds, as st read it;
// when it has none yet (Redis lost its data and nothing was published
// since), it starts one, as the first subscriber of a topic does, so that
// a resync can name it.
func (b *Broker) genesis(ctx context.Context, st state) (string, error) {
	if st.hasGen {
		return st.genesis.String(), nil
	}
	g, err := ensureDatasetScript.Exec(ctx, b.client, []string{b.counter}, nil).ToString()
	if err != nil {
		return "", fmt.Errorf("dataset identity: %w", err)
	}
	return g, nil
}

// readStates reads the state of topics' streams from start on: with the
// dataset's counter and genesis, in one script on a single node; stream by
// stream on a cluster, then the record of the dataset.
func (b *Broker) readStates(ctx context.Context, topics []string, start string) ([]state, error) {
	if !b.cfg.Cluster {
		keys := make([]string, 0, len(topics)+1)
		keys = append(keys, b.counter)
		for _, t := range topics {
			keys = append(keys, streamKey(b.channel(t)))
		}
		st, err := parseState(stateScript.Exec(ctx, b.client, keys, []string{start, "1"}), topics)
		if err != nil {
			return nil, err
		}
		return []state{st}, nil
	}
	sts := make([]state, 0, len(topics))
	for _, t := range topics {
		st, err := parseState(stateScript.Exec(ctx, b.client, []string{streamKey(b.channel(t))}, []string{start, "0"}), []string{t})
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	// Read after the streams: every id in them is at or before it.
	if err := b.readRecord(ctx, &sts[0]); err != nil {
		return nil, err
	}
	return sts, nil
}

// history adds to bl the events of streams (one per topic) after last
// that are younger than HistoryAge at nowMs, merged in id order, and the
// topics whose events after last are no longer all there to Resync.
func (b *Broker) history(bl *sse.Backlog, topics []string, streams []streamState, last streamid.ID, nowMs uint64) {
	ageMs := uint64(b.opts.HistoryAge.Milliseconds())
	var cutoff uint64
	if nowMs > ageMs {
		cutoff = nowMs - ageMs
	}
	var lists [][]delivery
	for i, t := range topics {
		ss := streams[i]
		if !ss.exists {
			// The stream expired (maxDeleted is its last id), or it never
			// existed, or even its record is gone: then whatever came after
			// an id older than HistoryAge has expired.
			if last.Less(ss.maxDeleted) || ss.maxDeleted.IsZero() && last.Ms < cutoff {
				bl.Resync = append(bl.Resync, sse.Resync{Topic: t, Reason: sse.ResyncHistoryExceeded})
			}
			continue
		}
		trimmed := ss.maxDeleted
		var keep []delivery
		for _, d := range ss.entries {
			if d.id.Ms < cutoff {
				if trimmed.Less(d.id) {
					trimmed = d.id
				}
				continue
			}
			keep = append(keep, d)
		}
		if last.Less(trimmed) {
			// Entries were read from last on: the first kept is the
			// oldest the stream holds.
			r := sse.Resync{Topic: t, Reason: sse.ResyncHistoryExceeded}
			if len(keep) > 0 {
				r.Oldest = keep[0].ev.ID
			}
			bl.Resync = append(bl.Resync, r)
		}
		lists = append(lists, keep)
	}
	// The copies of a multi-topic event share its mid: on a cluster they
	// may have different ids, and distinct events on different shards may
	// share one.
	for d := range streamid.Merge(lists, deliveryID, copyKey) {
		bl.Events = append(bl.Events, d.ev)
	}
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
