package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

var _ sse.PresenceBroker = (*Broker)(nil)

// Presence tunables.
const (
	// presenceStreamLen bounds the events stream (MAXLEN ~): an instance
	// or an outbox that falls this many changes behind loses the oldest.
	presenceStreamLen = 100000
	// presenceBatch is how many entries of a topic one set script call
	// takes: large enough that a join storm costs few calls, small enough
	// that a call holds Redis for well under a millisecond.
	presenceBatch = 256
	// presenceReapTopics is how many due topics a reaper pass takes, and
	// presenceReapEntries how many entries of each one script call reaps.
	presenceReapTopics  = 256
	presenceReapEntries = 1000
	// presenceBlock is how long a blocking stream read waits: it bounds
	// how long Close and a canceled Next wait for one.
	presenceBlock = 500 * time.Millisecond
	// presenceGroup is the outbox's consumer group.
	presenceGroup = "ssevents-presence"
	// presencePruneEvery is how often Next looks for outbox consumers to
	// remove, and presenceConsumerIdle how long one must have been idle,
	// holding nothing, to be removed.
	presencePruneEvery   = 10 * time.Minute
	presenceConsumerIdle = time.Hour
)

// Presence implements sse.PresenceBroker: a store shared by every broker
// on the same Redis (see presenceStore). Its background loops start now;
// Redis need not be reachable.
func (b *Broker) Presence(opts sse.PresenceOptions) (sse.PresenceStore, error) {
	opts = opts.WithDefaults()
	s := newPresenceStore(b, opts)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, sse.ErrBrokerClosed
	}
	if b.presence == nil {
		b.presence = make(map[*presenceStore]struct{})
	}
	b.presence[s] = struct{}{}
	b.mu.Unlock()
	s.start()
	return s, nil
}

// closePresence closes the broker's open presence stores (Broker.Close).
func (b *Broker) closePresence() {
	b.mu.Lock()
	stores := make([]*presenceStore, 0, len(b.presence))
	for s := range b.presence {
		stores = append(stores, s)
	}
	b.mu.Unlock()
	for _, s := range stores {
		_ = s.Close()
	}
}

// entryKey names a presence entry of this instance: one user on one topic.
type entryKey struct{ topic, user string }

// presenceEntry is this instance's part of a member: its streams here.
type presenceEntry struct {
	count int
	info  json.RawMessage
	// graceUntil is when an entry without streams leaves (local clock).
	graceUntil time.Time
	// confirmed reports that Redis holds (or held) the entry and its
	// user's join was announced: a re-assert that finds it missing is
	// silent (see luaPresence).
	confirmed bool
	// added reports an Add since the last successful set: an entry whose
	// stream came and went between two syncs is still created (its user
	// joins, and leaves after the grace period), so that no stream, however
	// short, goes unseen.
	added bool
	// setMs is the server time of the last successful set: a leave
	// observed later than it unconfirms the entry.
	setMs int64
	// gen counts local changes, so that a sync tells whether the entry
	// changed while it was in flight.
	gen uint64
}

// presenceStore is a Redis sse.PresenceStore. Add and Remove change local
// counts and mark entries dirty; a sync loop writes dirty entries in
// batches, re-asserts every entry every TTL/3 and Close ends them all with
// a grace period; a reaper removes expired entries of every instance
// (leaves); a reader follows the events stream for Watch; Next and Ack use
// a consumer group on that stream.
type presenceStore struct {
	b         *Broker
	opts      sse.PresenceOptions
	id        string        // this instance, in entry names
	index     string        // zset: topic -> first expiry
	stream    string        // the joins and leaves of every topic
	keep      time.Duration // how long a tombstone stays
	reapEvery time.Duration
	claimIdle time.Duration
	// pruneEvery and consumerIdle: see presencePruneEvery.
	pruneEvery, consumerIdle time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // a sync is wanted; capacity 1: one wake covers every Add before it

	pubMu sync.Mutex // serializes appends of pending events (cluster), in order

	mu        sync.Mutex
	entries   map[entryKey]*presenceEntry
	dirty     map[entryKey]struct{}
	pending   []presenceChange // cluster: changes to append to the stream
	watchers  []func(sse.PresenceEvent)
	pruned    time.Time // when Next last pruned the outbox's consumers
	closed    bool
	abandoned bool
}

// presenceChange is a join or leave a script reported (cluster).
type presenceChange struct {
	kind, topic, user, info string
	conns, ms, seq          int64
}

func newPresenceStore(b *Broker, opts sse.PresenceOptions) *presenceStore {
	global := "{ssevents:presence}"
	if b.opts.TopicPrefix != "" {
		global = "{ssevents:presence:" + b.opts.TopicPrefix + "}"
	}
	s := &presenceStore{
		b: b, opts: opts, id: rand.Text()[:12],
		index: global + ":index", stream: global + ":events",
		keep:       2*opts.TTL + opts.Grace,
		reapEvery:  min(time.Second, max(opts.Grace/2, 100*time.Millisecond)),
		claimIdle:  opts.TTL,
		pruneEvery: presencePruneEvery, consumerIdle: presenceConsumerIdle,
		wake:    make(chan struct{}, 1),
		entries: make(map[entryKey]*presenceEntry),
		dirty:   make(map[entryKey]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start starts the loops; Watch sees every change appended from now on.
func (s *presenceStore) start() {
	if s.opts.Outbox {
		ctx, cancel := context.WithTimeout(s.ctx, s.b.cfg.Timeout)
		_ = s.createGroup(ctx, "$") // best effort: Next creates it on NOGROUP
		cancel()
	}
	last, err := s.streamEnd()
	s.fail(err)
	s.wg.Add(3)
	go s.syncLoop()
	go s.reapLoop()
	go s.readLoop(last)
}

// keys returns the keys of topic's scripts (see luaPresence).
func (s *presenceStore) keys(topic string) []string {
	base := "ssevents:presence:{" + s.b.channel(topic) + "}:"
	keys := []string{base + "e", base + "x", base + "u", base + "n", base + "s"}
	if !s.b.cfg.Cluster {
		keys = append(keys, s.index, s.stream)
	}
	return keys
}

// Add implements sse.PresenceStore.
func (s *presenceStore) Add(topic, user string, info json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	k := entryKey{topic, user}
	e := s.entries[k]
	if e == nil {
		e = &presenceEntry{}
		s.entries[k] = e
	}
	e.count++
	e.added = true
	if len(info) > 0 && user != "" {
		e.info = info
	}
	s.markLocked(k, e)
}

// Remove implements sse.PresenceStore.
func (s *presenceStore) Remove(topic, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := entryKey{topic, user}
	e := s.entries[k]
	if s.closed || e == nil || e.count == 0 {
		return
	}
	e.count--
	if e.count == 0 {
		e.graceUntil = time.Now().Add(s.opts.Grace)
	}
	s.markLocked(k, e)
}

func (s *presenceStore) markLocked(k entryKey, e *presenceEntry) {
	e.gen++
	s.dirty[k] = struct{}{}
	s.poke()
}

func (s *presenceStore) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Watch implements sse.PresenceStore.
func (s *presenceStore) Watch(fn func(sse.PresenceEvent)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
}

// Close implements sse.PresenceStore: it stops the loops, then sets every
// entry of this instance to no streams with the grace period, in one batch.
func (s *presenceStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	abandoned := s.abandoned
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	defer func() {
		s.b.mu.Lock()
		delete(s.b.presence, s)
		s.b.mu.Unlock()
	}()
	if abandoned {
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	for k, e := range s.entries {
		if e.count > 0 {
			e.count, e.graceUntil = 0, now.Add(s.opts.Grace)
		}
		s.markLocked(k, e)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.b.cfg.Timeout)
	defer cancel()
	err := s.flush(ctx)
	if perr := s.publishPending(ctx); err == nil {
		err = perr
	}
	if err != nil {
		return errors.Join(errors.New("ssevents/redis: presence close: entries left to expire"), err)
	}
	return nil
}

// abandon stops the store's loops without ending its entries, as a killed
// process would (tests).
func (s *presenceStore) abandon() {
	s.mu.Lock()
	s.abandoned = true
	s.mu.Unlock()
	_ = s.Close()
}

// fail reports a failed operation to OnError.
func (s *presenceStore) fail(err error) {
	if err != nil && s.ctx.Err() == nil {
		s.opts.OnError(err)
	}
}

// sleep waits d or until the store stops; false when it stopped.
func (s *presenceStore) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// redisNow returns the server's clock, from the broker's measured offset.
func (s *presenceStore) redisNow() time.Time {
	s.b.clock.mu.Lock()
	defer s.b.clock.mu.Unlock()
	return time.Now().Add(s.b.clock.offset)
}
