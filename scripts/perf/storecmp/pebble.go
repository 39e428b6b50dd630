package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// Design C: one pebble LSM. An event is the key "e" + topic + 0x00 + id
// (16 bytes big-endian), so a topic's events are contiguous and in id
// order; "m" + topic holds its topicMeta, written in the same batch as its
// events, so that recovery reads one record per topic (plus pebble's own
// WAL replay).
//
// A publish builds its batch and enters pebble's commit pipeline under one
// mutex (ApplyNoSyncWait), so ids, trims and sequence numbers are in one
// order, then waits for the WAL fsync outside it (SyncWait): concurrent
// publishes share pebble's group commit. Trimming deletes a topic's oldest
// key, found by a seek to its first id (a seek from the topic's start
// would walk the tombstones of every trimmed event); eviction is one
// DeleteRange. Space comes back when compactions drop the tombstones.
type pebbleStore struct {
	db   *pebble.DB
	sync *pebble.WriteOptions
	mu   sync.Mutex // orders publishes: ids, trims and commit order
	b    *bounds
}

func eventPrefix(topic string) []byte {
	k := make([]byte, 0, 2+len(topic)+16)
	k = append(k, 'e')
	k = append(k, topic...)
	return append(k, 0)
}

func eventKey(topic string, id streamid.ID) []byte { return append(eventPrefix(topic), idKey(id)...) }

func metaKey(topic string) []byte { return append([]byte{'m'}, topic...) }

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	end[len(end)-1]++ // p ends with 0x00 or 'm'/'e': never 0xff
	return end
}

func openPebble(dir string, opts sse.BrokerOptions, mode fsyncMode) (store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("pebble: %w", err)
	}
	s := &pebbleStore{db: db, sync: pebble.Sync, b: newBounds(opts)}
	if mode == fsyncOff {
		s.sync = pebble.NoSync
	}
	// Recovery: the meta of every topic.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("m"), UpperBound: []byte("n")})
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	for it.First(); it.Valid(); it.Next() {
		m, err := decodeMeta(it.Value())
		if err != nil {
			return nil, errors.Join(err, it.Close(), db.Close())
		}
		s.b.meta[string(it.Key()[1:])] = &m
		s.b.bytes += m.bytes
		if s.b.last.Less(m.last) {
			s.b.last = m.last
		}
	}
	if err := it.Close(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func (s *pebbleStore) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(msg.Topics) == 0 {
		return "", sse.ErrNoTopic
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	id, err := s.commit(batch, msg)
	if err != nil {
		return "", fmt.Errorf("pebble: publish: %w", err)
	}
	if s.sync.Sync {
		if err := batch.SyncWait(); err != nil {
			return "", fmt.Errorf("pebble: publish: %w", err)
		}
	}
	return id.String(), nil
}

// commit fills batch with msg's records, trims and evictions and applies
// it, without waiting for its fsync.
func (s *pebbleStore) commit(batch *pebble.Batch, msg sse.Message) (streamid.ID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := nextID(s.b.last)
	rec := encodeRecord(msg, time.Now())
	n := recordBytes(id, rec)
	for _, topic := range sse.UniqueTopics(msg.Topics) {
		if err := batch.Set(eventKey(topic, id), rec, nil); err != nil {
			return id, err
		}
		m := s.b.add(topic, id, n)
		if err := s.trim(batch, topic, m); err != nil {
			return id, err
		}
		if err := batch.Set(metaKey(topic), m.encode(), nil); err != nil {
			return id, err
		}
	}
	for t := s.b.evictable(); t != ""; t = s.b.evictable() {
		p := eventPrefix(t)
		if err := batch.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return id, err
		}
		if err := batch.Delete(metaKey(t), nil); err != nil {
			return id, err
		}
		s.b.forget(t)
	}
	apply := s.db.Apply
	if s.sync.Sync {
		apply = s.db.ApplyNoSyncWait
	}
	if err := apply(batch, s.sync); err != nil {
		return id, err
	}
	s.b.last = id
	return id, nil
}

// trim deletes the oldest events of topic past HistorySize (or past
// HistoryMaxBytes when it is the only topic). Every event older than
// this publish has been applied (s.mu), so the seek sees it.
func (s *pebbleStore) trim(batch *pebble.Batch, topic string, m *topicMeta) error {
	for m.count > int64(s.b.opts.HistorySize) ||
		(m.count > 1 && len(s.b.meta) == 1 && s.b.bytes > int64(s.b.opts.HistoryMaxBytes)) {
		first := eventKey(topic, m.first)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: first, UpperBound: prefixEnd(eventPrefix(topic))})
		if err != nil {
			return err
		}
		if !it.First() {
			// The newest event is in this batch only: it is the one past
			// the bound (HistorySize 1).
			return errors.Join(errCorrupt, it.Close())
		}
		n := recordBytes(m.first, it.Value())
		if err := batch.Delete(first, nil); err != nil {
			return errors.Join(err, it.Close())
		}
		next := m.last // the event of this batch, when the store holds no other
		if it.Next() {
			next = keyID(it.Key()[len(it.Key())-16:])
		}
		if err := it.Close(); err != nil {
			return err
		}
		s.b.drop(topic, m, m.first, n, next)
	}
	return nil
}

func (s *pebbleStore) Resume(_ context.Context, topic, lastID string) (int, error) {
	after, err := streamid.Parse(lastID)
	if err != nil {
		return 0, err
	}
	// A resume from before the greatest id dropped has missed events;
	// checked after the read too, since a publish may trim meanwhile.
	stale := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		m, ok := s.b.meta[topic]
		return !ok || after.Less(m.trimmed)
	}
	if stale() {
		return 0, errStale
	}
	p := eventPrefix(topic)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(topic, after), UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, err
	}
	var evs []sse.Event
	for it.First(); it.Valid(); it.Next() { // a seek: O(log n)
		id := keyID(it.Key()[len(p):])
		if id == after {
			continue
		}
		ev, err := decodeRecord(topic, id, it.Value())
		if err != nil {
			return 0, errors.Join(err, it.Close())
		}
		evs = append(evs, ev)
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if stale() {
		return 0, errStale
	}
	return len(evs), nil
}

func (s *pebbleStore) Close() error { return s.db.Close() }

// quietLogger drops pebble's informational log lines and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(stderr, "pebble: "+format+"\n", args...)
	panic(fmt.Sprintf(format, args...))
}

var stderr io.Writer = os.Stderr
