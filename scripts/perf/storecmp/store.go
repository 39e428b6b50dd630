package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// store is one design's durable history, reduced to what the comparison
// measures: publish (answered once durable, per the fsync mode), resume
// (the events of a topic after an id) and close. Open on a directory that
// holds a previous store's files is recovery. Implementations are safe for
// concurrent use; after Close every method fails.
type store interface {
	// Publish appends msg to the history of its topics and returns its id
	// once the record is as durable as the fsync mode says.
	Publish(ctx context.Context, msg sse.Message) (string, error)
	// Resume returns how many events of topic follow lastID, reading
	// them (ids, names, data) the way a resuming subscriber would get
	// them; it fails when lastID is older than the topic's history.
	Resume(ctx context.Context, topic, lastID string) (int, error)
	// Close flushes and closes the store.
	Close() error
}

// fsyncMode is when a store makes a publish durable.
type fsyncMode int

const (
	fsyncAlways fsyncMode = iota // before the publish is answered; concurrent publishes share one fsync
	fsyncOff                     // never: for filling a history fast; durability is not measured then
)

// design is one way to keep the history on disk.
type design struct {
	name  string // short name used by -design
	title string // what the table calls it
	// open opens (or recovers) the store in dir. dir is "" for the
	// in-memory reference.
	open func(dir string, bounds sse.BrokerOptions, mode fsyncMode) (store, error)
	// files are the non-test source files of the design's implementation,
	// relative to this directory, for the code-size column.
	files []string
	// durable is false for the in-memory reference: no recovery, no disk.
	durable bool
}

var designs = []design{
	{name: "mem", title: "in-memory (no --data-dir), reference", open: openMem},
	{name: "log", title: "A: segmented log + in-memory index (memory.Open)", open: openLog, durable: true,
		files: logFiles},
	{name: "bbolt", title: "B: bbolt (B+tree, db.Batch group commit)", open: openBolt, durable: true,
		files: []string{"bolt.go", "record.go"}},
	{name: "pebble", title: "C: pebble v2 (LSM, WAL group commit)", open: openPebble, durable: true,
		files: []string{"pebble.go", "record.go"}},
}

func designByName(name string) (design, error) {
	for _, d := range designs {
		if d.name == name {
			return d, nil
		}
	}
	return design{}, fmt.Errorf("storecmp: unknown design %q", name)
}

// errStale is what Resume returns when lastID is older than the history.
var errStale = errors.New("storecmp: id older than the history: resync")

// brokerStore is the store of a design that is an sse.Broker (the
// in-memory reference and design A): resume is a subscription's backlog.
type brokerStore struct {
	b interface {
		sse.Broker
		Close() error
	}
}

func (s brokerStore) Publish(ctx context.Context, msg sse.Message) (string, error) {
	return s.b.Publish(ctx, msg)
}

func (s brokerStore) Resume(ctx context.Context, topic, lastID string) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.b.Subscribe(ctx, sse.SubscribeRequest{Topics: []string{topic}, LastEventID: lastID})
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	bl := sub.Backlog()
	if len(bl.Resync) > 0 {
		return 0, fmt.Errorf("%w: %v", errStale, bl.Resync[0].Reason)
	}
	return len(bl.Events), nil
}

func (s brokerStore) Close() error { return s.b.Close() }

func openMem(_ string, bounds sse.BrokerOptions, _ fsyncMode) (store, error) {
	return brokerStore{memory.New(bounds)}, nil
}

// ---- what designs B and C share: ids, keys, the record, the bounds ----

// idKey is an id as 16 big-endian bytes: keys in id order sort bytewise.
func idKey(id streamid.ID) []byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], id.Ms)
	binary.BigEndian.PutUint64(k[8:], id.Seq)
	return k[:]
}

func keyID(k []byte) streamid.ID {
	return streamid.ID{Ms: binary.BigEndian.Uint64(k[:8]), Seq: binary.BigEndian.Uint64(k[8:16])}
}

// nextID is the id after last at the wall clock: never backwards, even when
// the clock steps back (last comes from the store on recovery).
func nextID(last streamid.ID) streamid.ID {
	return streamid.Next(last, uint64(time.Now().UnixMilli()))
}

// idemHash is the 8-byte hash of an idempotency key the record keeps.
func idemHash(key string) uint64 {
	if key == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}
