package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/seglog"
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
//
// Topics are sharded by a hash of their name, each shard under its own
// lock: publishes to topics of different shards, fan-out included, run in
// parallel, and a fan-out to many subscribers holds only its topic's shard.
// A subscription receives its events in id order, whatever shards its
// topics are in: to that end, publishes that deliver to subscriptions to
// topics of several shards do so one after the other, in id order, while
// publishes without such subscriptions do not wait for them.
type Broker struct {
	opts  sse.BrokerOptions
	now   func() time.Time
	first streamid.ID // first id this broker may issue; older ids are unknown

	// The topics, by a hash of their name (see shard). A publish, a
	// subscribe and the end of a subscription lock the shards of their
	// topics, in index order; eviction and the janitor lock one at a time.
	seed   maphash.Seed
	shards []shard
	mask   uint64 // len(shards)-1: the hash bits that pick a shard

	// mu is the broker's sequence: every publish takes it once, briefly,
	// under its shards' locks, to take its id, move its topics to the front
	// of the eviction order and, when it has subscriptions across shards,
	// take its turn to deliver to them; eviction takes it to change the
	// eviction order. No shard is locked under it.
	//
	// A subscription whose topics are all in one shard gets its events in
	// id order because publishes to that shard take their ids and deliver
	// under its lock. One across shards (its topics hash to several) gets
	// its events in the order of the publishes' turns, which is the order
	// of their ids: each such publish waits, holding its shards, until the
	// one before it has delivered to its subscriptions across shards
	// (crossTurn is closed then). Were they delivered under the shard
	// locks only, an event of one shard could overtake an older one of
	// another, and a client that resumes from the newer id would never get
	// the older event. A publish without such subscriptions never waits.
	mu        sync.Mutex
	last      streamid.ID
	order     topicList     // the topics with history, most recently published first
	crossTurn chan struct{} // closed when the last publish to subscriptions across shards has delivered to them
	// awaitingTurn, when set (by tests only, before any publish: see
	// export_test.go), is called by a publish to subscriptions across
	// shards with its turn just before it waits for it, so that a test can
	// see whether the turn is open while the publish before is delivering.
	awaitingTurn func(turn <-chan struct{})

	bytes  atomic.Int64 // estimated bytes of the history (EventBytes, TopicBytes)
	closed atomic.Bool  // set with every shard locked

	// idemMu guards idem. A publish with an idempotency key reserves its
	// key before it locks its shards and settles it after, so that its
	// key is in flight (another publish with it is refused) until it has
	// returned. No other lock is taken under it.
	idemMu sync.Mutex
	idem   idemRecords
	// inFlightHook, when set (by tests only), is called by a publish with
	// an idempotency key once the key is reserved, before it publishes.
	inFlightHook func(sse.Message)

	// log, when the broker has a data directory (Open), holds the
	// history on disk; nil in memory. lostBefore: a damaged span of the
	// files may have held events of any topic before it (see durable.go).
	log        *seglog.Log
	lostBefore streamid.ID
	recovery   seglog.Recovery
	// keepSegments, set by the janitor after a failed compaction, stops
	// it deleting segments.
	keepSegments bool
	// rotated wakes the janitor when the log starts a segment, so that
	// the disk stays within its bound between its rounds too.
	rotated chan struct{}

	// presMu guards presence, the open presence store (nil: none), and
	// presenceOff, set by Close: no store opens any more.
	presMu      sync.Mutex
	presence    *presenceStore
	presenceOff bool

	stop chan struct{}
	wg   sync.WaitGroup
}

var (
	_ sse.Broker      = (*Broker)(nil)
	_ sse.Waker       = (*memSub)(nil) // served without a goroutine by the SSE handler
	_ sse.Unaccepting = (*memSub)(nil) // judged by what its client has not accepted
)

// memJanitorInterval is how often expired history is dropped: often enough
// to bound memory, rarely enough to cost nothing.
const memJanitorInterval = 5 * time.Second

// New returns an embedded broker. Zero fields of opts take their
// defaults (see sse.BrokerOptions). Close it to stop its janitor goroutine.
func New(opts sse.BrokerOptions) *Broker {
	b := newBroker(opts)
	b.start()
	return b
}

// newBroker returns a broker whose janitor is not started yet.
func newBroker(opts sse.BrokerOptions) *Broker {
	n := shardCount()
	b := &Broker{
		opts: opts.WithDefaults(),
		now:  time.Now,
		// Ids start at the millisecond the broker was made in, and Close
		// returns only after the millisecond of the last id: no id of a
		// previous broker (or process) is ever one of this broker's, and
		// resuming from one yields a resync.
		first:   streamid.ID{Ms: uint64(time.Now().UnixMilli())},
		seed:    maphash.MakeSeed(),
		shards:  make([]shard, n),
		mask:    uint64(n - 1),
		stop:    make(chan struct{}),
		rotated: make(chan struct{}, 1),
		// No publish before the first: its turn is now.
		crossTurn: make(chan struct{}),
	}
	close(b.crossTurn)
	for i := range b.shards {
		b.shards[i].topics = make(map[string]*memTopic)
		b.shards[i].forgot.size = forgottenSlots / n
	}
	return b
}

// start starts the janitor.
func (b *Broker) start() {
	b.wg.Add(1)
	go b.janitor()
}

// Publish implements sse.Broker.
func (b *Broker) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(msg.Topics) == 0 {
		return "", sse.ErrNoTopic
	}
	if b.closed.Load() {
		return "", sse.ErrBrokerClosed // checked again under the shard locks; here for a retry too
	}
	var scope idemScope
	var fp sse.Fingerprint
	if msg.IdempotencyKey != "" {
		scope, fp = idempotencyScope(msg.IdempotencyKey), msg.Fingerprint()
		b.idemMu.Lock()
		id, done, err := b.idem.reserve(msg.IdempotencyKey, scope, fp, b.now(), b.opts.HistoryAge)
		b.idemMu.Unlock()
		if err != nil || done {
			return id, err
		}
		if b.inFlightHook != nil {
			b.inFlightHook(msg)
		}
	}
	names := msg.Topics
	if len(names) > 1 {
		names = sse.UniqueTopics(names)
	}
	var hashBuf [4]uint64
	hashes := hashBuf[:0]
	for _, name := range names {
		hashes = append(hashes, b.hash(name))
	}
	var indexBuf [4]int
	shards := b.shardIndexes(indexBuf[:0], hashes)
	b.lock(shards)
	id, now, w, err := b.publish(msg, names, hashes, scope, fp)
	b.unlock(shards)
	if err == nil && w.batch != nil {
		// Acknowledged means on disk: wait for the record's sync (shared
		// with the publishes written meanwhile).
		if serr := b.log.Sync(w.batch); serr != nil {
			b.opts.Logger.Error("ssevents: history sync failed; publish outcome unknown", "err", serr)
			b.opts.Observer.BrokerError()
			err = fmt.Errorf("%w: history not synced to disk: %v", sse.ErrOutcomeUnknown, diskCause(serr))
		}
	}
	if msg.IdempotencyKey != "" {
		b.idemMu.Lock()
		b.idem.settle(scope, fp, id, now, b.opts.IdempotencyMaxRecords, w.seg)
		b.idemMu.Unlock()
	}
	w.release()
	if err == nil {
		b.enforceBounds()
	}
	return id, err
}

// publish publishes msg to names, its topics without repeats, of hashes:
// it records the event in the history of each topic and delivers it to
// their subscriptions. It returns the event's id, the time it was
// published at and, with a data directory, where its record was written
// (to be synced before the publish is answered); scope and fp are its
// idempotency key's, if it has one. The shards of the topics are locked.
func (b *Broker) publish(msg sse.Message, names []string, hashes []uint64, scope idemScope, fp sse.Fingerprint) (string, time.Time, written, error) {
	if b.closed.Load() {
		return "", time.Time{}, written{}, sse.ErrBrokerClosed
	}
	now := b.now()
	multi := len(names) > 1
	var one [1]*memTopic
	topics := one[:0]
	for i, name := range names {
		topics = append(topics, b.shards[hashes[i]&b.mask].topic(name, hashes[i]))
	}
	var seen map[*memSub]struct{} // only needed when one event goes to several topics
	if multi {
		seen = make(map[*memSub]struct{})
	}

	cross := false
	for _, t := range topics {
		cross = cross || len(t.cross) > 0
	}
	b.mu.Lock()
	id := streamid.Next(b.last, uint64(now.UnixMilli()))
	if id.Less(b.first) {
		id = b.first
	}
	b.last = id
	var w written
	if b.log != nil {
		w = b.appendRecord(id, now, names, msg, scope, fp)
	}
	for _, t := range topics {
		b.order.pushFront(t)
	}
	// A publish to subscriptions across shards takes its turn among those
	// publishes in the order of their ids.
	var turn, done chan struct{}
	if cross {
		turn, done = b.crossTurn, make(chan struct{})
		b.crossTurn = done
	}
	b.mu.Unlock()
	if w.batch != nil {
		// Written before anyone sees the event: a crash of the process
		// never loses an event a client has.
		if err := b.log.Write(w.batch); err != nil {
			b.unlist(topics)
			w.release()
			if cross {
				<-turn
				close(done)
			}
			b.opts.Logger.Error("ssevents: history write failed; publish refused", "err", err)
			b.opts.Observer.BrokerError()
			return "", now, written{}, fmt.Errorf("%w: history not written to disk: %v", sse.ErrUnavailable, diskCause(err))
		}
	}
	ev := encodeEvent(id, msg, now)
	if cross {
		if b.awaitingTurn != nil {
			b.awaitingTurn(turn)
		}
		<-turn
		for _, t := range topics {
			ev.Topic = t.name
			deliver(ev, t.cross, seen)
		}
		close(done)
	}

	for _, t := range topics {
		ev.Topic = t.name // one copy of the name for the topic's whole history
		b.record(t, ev, id, multi, w.seg)
		b.trim(t, now)
		deliver(ev, t.subs, seen)
	}
	return ev.ID, now, w, nil
}

// encodeEvent returns the event of msg, with id, published at now. It is
// encoded once for every subscriber and the history; Data then shares the
// encoding's bytes (see wire.EncodeEvent).
func encodeEvent(id streamid.ID, msg sse.Message, now time.Time) sse.Event {
	ev := sse.Event{ID: id.String(), Name: msg.Event, Time: now}
	ev.Wire, ev.Data = wire.EncodeEvent(ev.ID, ev.Name, msg.Data)
	return ev
}

// deliver pushes ev to subs, skipping those in seen and adding the others
// to it (when seen is not nil: one event to several topics).
func deliver(ev sse.Event, subs map[*memSub]struct{}, seen map[*memSub]struct{}) {
	for s := range subs {
		if seen != nil {
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
		}
		s.q.Push(ev)
	}
}
