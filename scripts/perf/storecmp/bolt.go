package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
	bolt "go.etcd.io/bbolt"
)

// Design B: one bbolt file. A bucket per topic holds its events keyed by
// id (16 bytes big-endian, so a cursor walks them in id order); the bucket
// "\x00meta" holds each topic's topicMeta, written in the same transaction
// as its events, so that recovery reads one record per topic.
//
// A publish runs in db.Batch, which coalesces concurrent calls into one
// read-write transaction and so one fsync: the functions of a batch run
// one after the other, which is where the id is taken, so ids are in
// commit order. Trimming deletes a topic's oldest keys in the same
// transaction; eviction deletes the topic's bucket. bbolt reuses the freed
// pages but never gives them back to the file system: the file keeps its
// high-water mark.
type boltStore struct {
	db *bolt.DB
	mu sync.Mutex // guards b against Resume's reads of nothing; taken in batch functions
	b  *bounds
}

var boltMeta = []byte("\x00meta")

func openBolt(dir string, opts sse.BrokerOptions, mode fsyncMode) (store, error) {
	db, err := bolt.Open(filepath.Join(dir, "history.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("bbolt: %w", err)
	}
	// db.Batch waits up to MaxBatchDelay (10 ms by default) for more calls
	// before it commits. 64 publishers that wait for their answer can never
	// fill a batch of MaxBatchSize (1000), so every batch would wait the
	// full delay; 1 ms keeps the batches while the fsync dominates.
	db.MaxBatchDelay = boltBatchDelay
	db.NoSync = mode == fsyncOff
	s := &boltStore{db: db, b: newBounds(opts)}
	// Recovery: the meta of every topic.
	err = db.Update(func(tx *bolt.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(boltMeta)
		if err != nil {
			return err
		}
		return mb.ForEach(func(k, v []byte) error {
			m, err := decodeMeta(v)
			if err != nil {
				return err
			}
			s.b.meta[string(k)] = &m
			s.b.bytes += m.bytes
			if s.b.last.Less(m.last) {
				s.b.last = m.last
			}
			return nil
		})
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bbolt: recover: %w", err), db.Close())
	}
	return s, nil
}

func (s *boltStore) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(msg.Topics) == 0 {
		return "", sse.ErrNoTopic
	}
	var id streamid.ID
	err := s.db.Batch(func(tx *bolt.Tx) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		id = nextID(s.b.last)
		s.b.last = id
		rec := encodeRecord(msg, time.Now())
		n := recordBytes(id, rec)
		mb := tx.Bucket(boltMeta)
		for _, topic := range sse.UniqueTopics(msg.Topics) {
			tb, err := tx.CreateBucketIfNotExists([]byte(topic))
			if err != nil {
				return err
			}
			// Keys only ever grow: full pages on split, not half-full
			// ones (bbolt's default of 0.5 doubles the file).
			tb.FillPercent = 0.95
			if err := tb.Put(idKey(id), rec); err != nil {
				return err
			}
			m := s.b.add(topic, id, n)
			if err := s.trim(tb, topic, m); err != nil {
				return err
			}
			if err := mb.Put([]byte(topic), m.encode()); err != nil {
				return err
			}
		}
		return s.evict(tx, mb)
	})
	if err != nil {
		return "", fmt.Errorf("bbolt: publish: %w", err)
	}
	return id.String(), nil
}

// trim deletes the oldest events of topic past HistorySize (or past
// HistoryMaxBytes when it is the only topic).
func (s *boltStore) trim(tb *bolt.Bucket, topic string, m *topicMeta) error {
	c := tb.Cursor()
	for m.count > int64(s.b.opts.HistorySize) ||
		(m.count > 1 && len(s.b.meta) == 1 && s.b.bytes > int64(s.b.opts.HistoryMaxBytes)) {
		k, v := c.First()
		if k == nil {
			return errCorrupt // the meta counts more than the bucket holds
		}
		dropped := keyID(k)
		n := recordBytes(dropped, v)
		if err := c.Delete(); err != nil {
			return err
		}
		next, _ := c.First()
		var nextID streamid.ID
		if next != nil {
			nextID = keyID(next)
		}
		s.b.drop(topic, m, dropped, n, nextID)
	}
	return nil
}

// evict deletes whole topics, least recently published first, while the
// history is over HistoryMaxBytes or HistoryMaxTopics.
func (s *boltStore) evict(tx *bolt.Tx, mb *bolt.Bucket) error {
	for t := s.b.evictable(); t != ""; t = s.b.evictable() {
		if err := tx.DeleteBucket([]byte(t)); err != nil {
			return err
		}
		if err := mb.Delete([]byte(t)); err != nil {
			return err
		}
		s.b.forget(t)
	}
	return nil
}

func (s *boltStore) Resume(_ context.Context, topic, lastID string) (int, error) {
	after, err := streamid.Parse(lastID)
	if err != nil {
		return 0, err
	}
	var evs []sse.Event
	err = s.db.View(func(tx *bolt.Tx) error {
		tb, mv := tx.Bucket([]byte(topic)), tx.Bucket(boltMeta).Get([]byte(topic))
		if tb == nil || mv == nil {
			return errStale // evicted, or never published to
		}
		m, err := decodeMeta(mv)
		if err != nil {
			return err
		}
		if after.Less(m.trimmed) {
			return errStale // events after lastID are gone
		}
		c := tb.Cursor()
		k, v := c.Seek(idKey(after)) // O(log n)
		if k != nil && keyID(k) == after {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			ev, err := decodeRecord(topic, keyID(k), v)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	})
	return len(evs), err
}

func (s *boltStore) Close() error { return s.db.Close() }

// boltBatchDelay is bbolt's MaxBatchDelay (see openBolt).
// Set by the flag -bolt-batch-delay.
var boltBatchDelay = time.Millisecond
