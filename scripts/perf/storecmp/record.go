package main

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// The record designs B and C store under a topic's key for an event (the
// key holds the topic and the id):
//
//	time ms (8) | idempotency key hash (8) | len(name) (uvarint) | name | data
//
// No checksum of our own: pebble checksums its WAL records and blocks,
// bbolt checks nothing (a torn page is found by its meta page only).
func encodeRecord(msg sse.Message, now time.Time) []byte {
	b := make([]byte, 16, 16+binary.MaxVarintLen64+len(msg.Event)+len(msg.Data))
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	binary.BigEndian.PutUint64(b[8:16], idemHash(msg.IdempotencyKey))
	b = binary.AppendUvarint(b, uint64(len(msg.Event)))
	b = append(b, msg.Event...)
	return append(b, msg.Data...)
}

var errCorrupt = errors.New("storecmp: corrupt record")

// decodeRecord returns the event of a record, with its id and topic.
func decodeRecord(topic string, id streamid.ID, v []byte) (sse.Event, error) {
	if len(v) < 16 {
		return sse.Event{}, errCorrupt
	}
	n, w := binary.Uvarint(v[16:])
	if w <= 0 || uint64(len(v)-16-w) < n {
		return sse.Event{}, errCorrupt
	}
	name := v[16+w : 16+w+int(n)]
	data := v[16+w+int(n):]
	return sse.Event{
		ID:    id.String(),
		Topic: topic,
		Name:  string(name),
		Data:  append([]byte(nil), data...),
		Time:  time.UnixMilli(int64(binary.BigEndian.Uint64(v[:8]))),
	}, nil
}

// recordBytes is the estimated history bytes of a stored record, counted
// the way the in-memory broker counts them (memory.EventBytes), so that
// HistoryMaxBytes bounds the same history in every design.
func recordBytes(id streamid.ID, v []byte) int64 {
	n, w := binary.Uvarint(v[16:])
	nameLen := int(n)
	dataLen := len(v) - 16 - w - nameLen
	return int64(dataLen + nameLen + len(id.String()) + memory.EventOverhead)
}

// topicMeta is what designs B and C keep per topic, in memory and in the
// store (written in the same commit as the events it describes), so that
// recovery reads one small record per topic instead of every event.
type topicMeta struct {
	count       int64
	bytes       int64       // recordBytes of its events, plus memory.TopicBytes while not empty
	first, last streamid.ID // oldest and newest id held
	trimmed     streamid.ID // greatest id dropped: a resume from before it has missed events
}

func (m topicMeta) encode() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint64(b[0:], uint64(m.count))
	binary.BigEndian.PutUint64(b[8:], uint64(m.bytes))
	copy(b[16:], idKey(m.first))
	copy(b[32:], idKey(m.last))
	copy(b[48:], idKey(m.trimmed))
	return b
}

func decodeMeta(b []byte) (topicMeta, error) {
	if len(b) != 64 {
		return topicMeta{}, errCorrupt
	}
	return topicMeta{
		count:   int64(binary.BigEndian.Uint64(b[0:])),
		bytes:   int64(binary.BigEndian.Uint64(b[8:])),
		first:   keyID(b[16:32]),
		last:    keyID(b[32:48]),
		trimmed: keyID(b[48:64]),
	}, nil
}

// bounds is the part of the in-memory state of B and C that applies
// sse.BrokerOptions' bounds: the meta of every topic with history and their
// total. Eviction takes the topic published to least recently (the
// smallest last id), as the in-memory broker does; found by a scan, which
// is fine for the tens of topics measured here (a real implementation
// would keep the in-memory broker's list).
type bounds struct {
	opts  sse.BrokerOptions
	meta  map[string]*topicMeta
	bytes int64
	last  streamid.ID // greatest id issued
}

func newBounds(opts sse.BrokerOptions) *bounds {
	return &bounds{opts: opts.WithDefaults(), meta: make(map[string]*topicMeta)}
}

// add counts an event of bytes n on topic and returns the topic's meta.
func (b *bounds) add(topic string, id streamid.ID, n int64) *topicMeta {
	m := b.meta[topic]
	if m == nil {
		m = &topicMeta{}
		b.meta[topic] = m
	}
	if m.count == 0 {
		m.first = id
		m.bytes += int64(memory.TopicBytes(topic))
		b.bytes += int64(memory.TopicBytes(topic))
	}
	m.count++
	m.bytes += n
	b.bytes += n
	m.last = id
	return m
}

// drop uncounts the oldest event of topic, id of bytes n; next is the id
// of the one after it (ignored when none is left).
func (b *bounds) drop(topic string, m *topicMeta, id streamid.ID, n int64, next streamid.ID) {
	m.trimmed = id
	m.count--
	m.bytes -= n
	b.bytes -= n
	m.first = next
	if m.count == 0 {
		b.forget(topic)
	}
}

// forget uncounts topic with all its history.
func (b *bounds) forget(topic string) {
	if m := b.meta[topic]; m != nil {
		b.bytes -= m.bytes
		delete(b.meta, topic)
	}
}

// evictable returns the topic to evict whole while the history is over
// HistoryMaxBytes or HistoryMaxTopics, "" when it is within them or when
// only one topic is left (then its oldest events go, by the size bound).
func (b *bounds) evictable() string {
	if b.bytes <= int64(b.opts.HistoryMaxBytes) && len(b.meta) <= b.opts.HistoryMaxTopics {
		return ""
	}
	if len(b.meta) < 2 {
		return ""
	}
	var name string
	var oldest streamid.ID
	for t, m := range b.meta {
		if name == "" || m.last.Less(oldest) {
			name, oldest = t, m.last
		}
	}
	return name
}
