package memory

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

var _ sse.PresenceBroker = (*Broker)(nil)

// errPresenceOpen is Presence's error while the broker's store is open.
var errPresenceOpen = errors.New("ssevents: the presence store is open already")

// Presence implements sse.PresenceBroker: it opens the broker's presence
// store, one at a time (until its Close, Presence returns an error).
// Nothing of presence runs before it is called. With a data directory,
// the store reads back the members its predecessor held when it was
// closed (see PresenceFile) and keeps them for their grace period, so
// that a restart is no storm of leaves and joins; Close writes them. It
// returns sse.ErrBrokerClosed once the broker is closed, and Broker.Close
// closes the store.
func (b *Broker) Presence(opts sse.PresenceOptions) (sse.PresenceStore, error) {
	b.presMu.Lock()
	defer b.presMu.Unlock()
	if b.presenceOff || b.closed.Load() {
		return nil, sse.ErrBrokerClosed
	}
	if b.presence != nil {
		return nil, errPresenceOpen
	}
	s := newPresenceStore(b, opts.WithDefaults())
	if b.log != nil {
		s.file = filepath.Join(b.opts.DataDir, PresenceFile)
		s.load(time.Now())
	}
	s.wg.Add(1)
	go s.janitor()
	b.presence = s
	s.flush() // the leaves the file had overdue
	return s, nil
}

// closePresence closes the broker's presence store, if open, and refuses
// to open another.
func (b *Broker) closePresence() error {
	b.presMu.Lock()
	s := b.presence
	b.presenceOff = true
	b.presMu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

// presenceStore is the embedded broker's sse.PresenceStore.
//
// One mutex guards its state. Every join and leave is made under it and
// queued (pending) in the order of the changes; the Watch functions are
// called outside it by one goroutine at a time, the one that finds the
// queue not being delivered (flush): so they see the changes of every
// topic in the order they were made, and may call the store.
type presenceStore struct {
	b      *Broker
	opts   sse.PresenceOptions
	prefix string // random, the start of every event id of the store
	file   string // the presence file, "" without a data directory

	mu         sync.Mutex
	closed     bool
	topics     map[string]*presTopic
	seq        uint64                    // events made so far, the end of their ids
	grace      graceHeap                 // members in their grace period, by deadline
	watchers   []func(sse.PresenceEvent) // appended to a clipped slice: flush's copy stays valid
	pending    []sse.PresenceEvent       // events not yet given to the watchers
	delivering bool                      // a flush is giving pending to the watchers
	out        outbox                    // the events for Next and Ack (opts.Outbox)
	dropped    int                       // outbox events dropped, not yet reported to OnError

	wake chan struct{} // the janitor's timer must be set again; 1 slot: one wake is enough
	stop chan struct{} // closed by Close: the janitor returns
	shut chan struct{} // closed by Close: Next returns
	wg   sync.WaitGroup
}

// presTopic is a topic with streams or members.
type presTopic struct {
	conns   int // every stream, anonymous ones included
	anon    int // anonymous streams
	members map[string]*presMember
	list    []*presMember // the members, for an O(limit) Snapshot; member.idx is the index
}

// presMember is a user present on a topic.
type presMember struct {
	user    string
	conns   int
	info    json.RawMessage
	leaveAt time.Time // when conns is 0: the end of the grace period
	idx     int       // in presTopic.list; -1 once the member left
}

// newPresenceStore returns a store of b with opts, its defaults set; its
// janitor is not started.
func newPresenceStore(b *Broker, opts sse.PresenceOptions) *presenceStore {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return &presenceStore{
		b: b, opts: opts, prefix: hex.EncodeToString(r[:]),
		topics: make(map[string]*presTopic),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		shut:   make(chan struct{}),
	}
}

// errClosed is the error of a closed store's Snapshot, Next and Ack.
func errClosed() error { return fmt.Errorf("%w: presence store closed", sse.ErrBrokerClosed) }

// Add implements sse.PresenceStore. It does nothing after Close.
func (s *presenceStore) Add(topic, user string, info json.RawMessage) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	t := s.topics[topic]
	if t == nil {
		t = &presTopic{members: make(map[string]*presMember)}
		s.topics[topic] = t
	}
	t.conns++
	if user == "" {
		t.anon++
		s.mu.Unlock()
		return
	}
	m := t.members[user]
	if m == nil {
		m = &presMember{user: user, conns: 1, info: bytes.Clone(info)}
		t.add(m)
		s.emit(sse.EventJoin, topic, m, time.Now())
	} else {
		// Back within the grace period, or one more stream: no event.
		m.conns++
		m.leaveAt = time.Time{}
		if info != nil {
			m.info = bytes.Clone(info)
		}
	}
	s.mu.Unlock()
	s.flush()
}

// Remove implements sse.PresenceStore. A Remove without its Add, and
// anything after Close, is ignored.
func (s *presenceStore) Remove(topic, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if s.closed || t == nil {
		return
	}
	if user == "" {
		if t.anon > 0 {
			t.anon--
			t.conns--
			s.forgetIfEmpty(topic, t)
		}
		return
	}
	m := t.members[user]
	if m == nil || m.conns == 0 {
		return
	}
	m.conns--
	t.conns--
	if m.conns == 0 {
		s.startGrace(topic, m, time.Now().Add(s.opts.Grace))
	}
}

// startGrace sets m's leave at deadline and hands it to the janitor.
func (s *presenceStore) startGrace(topic string, m *presMember, deadline time.Time) {
	m.leaveAt = deadline
	if s.grace.push(graceEntry{at: deadline, topic: topic, m: m}) {
		select {
		case s.wake <- struct{}{}:
		default: // a wake is pending already
		}
	}
}

// Snapshot implements sse.PresenceStore; it returns an error wrapping
// sse.ErrBrokerClosed after Close.
func (s *presenceStore) Snapshot(ctx context.Context, topic string, limit int) (sse.PresenceSnapshot, error) {
	snap := sse.PresenceSnapshot{Topic: topic, Members: []sse.PresenceMember{}}
	if err := ctx.Err(); err != nil {
		return snap, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return snap, errClosed()
	}
	t := s.topics[topic]
	if t == nil {
		return snap, nil
	}
	snap.Users, snap.Connections = len(t.list), t.conns
	n := min(max(limit, 0), len(t.list))
	snap.Members = make([]sse.PresenceMember, n)
	for i, m := range t.list[:n] {
		snap.Members[i] = sse.PresenceMember{User: m.user, Connections: m.conns, Info: m.info}
	}
	return snap, nil
}

// Watch implements sse.PresenceStore. The functions are called one
// event at a time, never two at once, outside the store's lock (they may
// call the store), with every topic's events in their order.
func (s *presenceStore) Watch(fn func(sse.PresenceEvent)) {
	s.mu.Lock()
	s.watchers = append(slices.Clip(s.watchers), fn)
	s.mu.Unlock()
}

// emit makes the event typ of m on topic at now: queued for the
// watchers and, with an outbox, kept for Next. s.mu is held; the caller
// flushes after unlocking it.
func (s *presenceStore) emit(typ, topic string, m *presMember, now time.Time) {
	s.seq++
	ev := sse.PresenceEvent{
		ID: s.prefix + "-" + strconv.FormatUint(s.seq, 16), Type: typ, Topic: topic,
		User: m.user, Info: m.info, Connections: m.conns, Time: now,
	}
	s.pending = append(s.pending, ev)
	if s.opts.Outbox {
		s.dropped += s.out.push(ev)
	}
}

// flush gives the pending events to the watchers, and reports dropped
// outbox events to OnError, unless another goroutine is doing it (it
// then does it for these events too).
func (s *presenceStore) flush() {
	s.mu.Lock()
	if s.delivering {
		s.mu.Unlock()
		return
	}
	s.delivering = true
	for len(s.pending) > 0 || s.dropped > 0 {
		evs, fns, dropped := s.pending, s.watchers, s.dropped
		s.pending, s.dropped = nil, 0
		s.mu.Unlock()
		if dropped > 0 {
			s.opts.OnError(fmt.Errorf("%w: dropped the %d oldest undelivered joins and leaves", errOutboxFull, dropped))
		}
		for _, ev := range evs {
			for _, fn := range fns {
				fn(ev)
			}
		}
		s.mu.Lock()
	}
	s.delivering = false
	s.mu.Unlock()
}

// Close implements sse.PresenceStore. With a data directory it writes
// the members to the presence file, each to leave Grace from now (those
// in their grace period already at their deadline), and returns what
// failed. Closing again does nothing.
func (s *presenceStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.shut)
	var saved []savedMember
	if s.file != "" {
		saved = s.members(time.Now().Add(s.opts.Grace))
	}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	s.b.presMu.Lock()
	if s.b.presence == s {
		s.b.presence = nil
	}
	s.b.presMu.Unlock()
	if s.file == "" {
		return nil
	}
	if err := writePresenceFile(s.file, saved); err != nil {
		s.opts.Logger.Warn("ssevents: presence not saved; its members will neither leave nor stay", "file", s.file, "err", err)
		return fmt.Errorf("ssevents: presence file: %w", err)
	}
	return nil
}

// add lists m as a member of t.
func (t *presTopic) add(m *presMember) {
	m.idx = len(t.list)
	t.list = append(t.list, m)
	t.members[m.user] = m
}

// remove takes m out of t's members.
func (t *presTopic) remove(m *presMember) {
	last := t.list[len(t.list)-1]
	t.list[m.idx], last.idx = last, m.idx
	t.list[len(t.list)-1] = nil
	t.list = t.list[:len(t.list)-1]
	delete(t.members, m.user)
	m.idx = -1
}

// forgetIfEmpty drops t, topic's, once it has neither streams nor
// members. s.mu is held.
func (s *presenceStore) forgetIfEmpty(topic string, t *presTopic) {
	if t.conns == 0 && len(t.list) == 0 {
		delete(s.topics, topic)
	}
}
