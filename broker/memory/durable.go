package memory

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"slices"
	"time"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// Open returns an embedded broker. With opts.DataDir it keeps its history,
// its dataset identity and its idempotency records in that directory
// (created if missing), reads them back first, and fails at once, naming
// the directory, when another process has it open. Without, it is New.
//
// On disk the history is a log of checksummed records in segment files
// (package internal/seglog) next to the in-memory index the broker always
// keeps: a publish writes its record to the operating system before the
// event is delivered to anyone and, with sse.FsyncAlways, is answered only
// once the record is synced, concurrent publishes sharing one fsync. A
// resume is served from memory, as without a directory.
//
// The directory is bounded by the history's own bounds: a segment is
// deleted whole once no event of it is in the history any more (count,
// age, topics or bytes), and when the files are over twice
// HistoryMaxBytes the few events the oldest segments still hold are
// copied forward so that they can go: the directory stays within about
// 2 × HistoryMaxBytes plus two segments (SegmentBytes).
//
// After a crash, a torn record at the end of the log is cut off; damage
// elsewhere loses only the records it covers, is logged and counted
// (sse.Observer.BrokerError), and a resume from before it on the topics
// it touched yields a resync (sse.ResyncDataLost).
func Open(opts sse.BrokerOptions) (*Broker, error) {
	if opts.DataDir == "" {
		return New(opts), nil
	}
	return open(opts, time.Now)
}

// open is Open with a data directory and the clock now.
func open(opts sse.BrokerOptions, now func() time.Time) (*Broker, error) {
	opts = opts.WithDefaults()
	var mode seglog.SyncMode
	switch opts.Fsync {
	case sse.FsyncAlways:
		mode = seglog.SyncAlways
	case sse.FsyncInterval:
		mode = seglog.SyncInterval
	case sse.FsyncOff:
		mode = seglog.SyncOff
	default:
		return nil, sse.CheckFsyncMode(string(opts.Fsync))
	}
	b := newBroker(opts)
	b.now = now
	rv := recovered{topics: map[string][]stored{}}
	l, rec, err := seglog.Open(seglog.Options{
		Dir: opts.DataDir, SegmentBytes: SegmentBytes(opts.HistoryMaxBytes),
		Sync: mode, SyncInterval: opts.FsyncInterval, Logger: opts.Logger, Now: b.now,
		Rotated: func() {
			select {
			case b.rotated <- struct{}{}:
			default: // a round is due already
			}
		},
	}, rv.add)
	if err != nil {
		return nil, fmt.Errorf("ssevents: data directory (SSE_DATA_DIR): %w", err)
	}
	b.log, b.recovery = l, rec
	for range rec.Damaged {
		opts.Observer.BrokerError()
	}
	b.install(&rv, rec, l.Dataset())
	if rec.Records > 0 {
		// Reading back grew and dropped per-topic lists and file
		// buffers: give that memory back now rather than hold it as RSS.
		debug.FreeOSMemory()
	}
	b.start()
	opts.Logger.Info("ssevents: history read from the data directory", "dir", opts.DataDir,
		"events", rec.Records, "new_dataset", rec.New, "torn_bytes", rec.TornBytes, "damaged", rec.Damaged)
	return b, nil
}

// SegmentBytes is the size of the data directory's segment files for a
// history of maxBytes: an eighth of it, within 1 MiB and 64 MiB.
func SegmentBytes(maxBytes int) int64 {
	return min(max(int64(maxBytes)/8, 1<<20), 64<<20)
}

// Recovery returns what Open read back from the data directory (zero
// without one).
func (b *Broker) Recovery() seglog.Recovery { return b.recovery }

// DiskBytes returns the bytes of the data directory's segment files (0
// without one).
func (b *Broker) DiskBytes() int64 {
	if b.log == nil {
		return 0
	}
	return b.log.Size()
}

// LogStats returns the data directory's write and sync counts (zero
// without one).
func (b *Broker) LogStats() seglog.Stats {
	if b.log == nil {
		return seglog.Stats{}
	}
	return b.log.Stats()
}

// Fsyncs returns the number of fsyncs of the data directory (0 without
// one).
func (b *Broker) Fsyncs() int64 { return b.LogStats().Syncs }

// diskCause returns what failed in err, an error of the data directory,
// without its paths: a client is told why (no space left on device), the
// log says where.
func diskCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return errors.New("input/output error")
}

// written is where a publish's record went: the batch to sync and the
// segment whose records the history then holds.
type written struct {
	batch *seglog.Batch
	seg   *seglog.Segment
}

// appendRecord appends the record of the event id of msg to the log. b.mu
// is held, so that records are appended in id order.
func (b *Broker) appendRecord(id streamid.ID, now time.Time, names []string, msg sse.Message, scope idemScope, fp sse.Fingerprint) written {
	rec := seglog.Record{ID: id, Time: now.UnixNano(), Topics: names, Name: msg.Event, Data: msg.Data}
	if msg.IdempotencyKey != "" {
		rec.Idempotent, rec.Scope, rec.Fingerprint = true, scope, fp
	}
	batch, seg := b.log.Append(&rec)
	// Held until the publish is done (release), so that the segment is
	// never deleted before the history references it.
	seg.Ref(1)
	return written{batch: batch, seg: seg}
}

// release lets go of the hold appendRecord took on w's segment.
func (w written) release() {
	if w.seg != nil {
		w.seg.Ref(-1)
	}
}

// unlist takes the topics of a publish that failed out of the eviction
// order when they have no history, and forgets those the publish made.
// Their shards are locked.
func (b *Broker) unlist(topics []*memTopic) {
	b.mu.Lock()
	for _, t := range topics {
		if len(t.history) == 0 {
			b.order.remove(t)
		}
	}
	b.mu.Unlock()
	for _, t := range topics {
		sh, h := b.shardOf(t.name)
		sh.forgetIfIdle(t, h)
	}
}

// recovered gathers the records read back, by topic.
type recovered struct {
	topics map[string][]stored
	idem   []recoveredIdem
}

type recoveredIdem struct {
	scope idemScope
	rec   idemRecord
}

// add takes one record read back.
func (rv *recovered) add(rec *seglog.Record, seg *seglog.Segment) {
	at := time.Unix(0, rec.Time)
	if rec.Idempotent {
		rv.idem = append(rv.idem, recoveredIdem{scope: rec.Scope, rec: idemRecord{id: rec.ID.String(), fp: rec.Fingerprint, at: at, seg: seg}})
	}
	if len(rec.Topics) == 0 {
		return
	}
	ev := sse.Event{ID: rec.ID.String(), Name: rec.Name, Time: at}
	ev.Wire, ev.Data = wire.EncodeEvent(ev.ID, ev.Name, rec.Data)
	for _, t := range rec.Topics {
		list := rv.topics[t]
		ev.Topic = t
		if len(list) > 0 {
			ev.Topic = list[0].ev.Topic // one copy of the name for the topic's whole history
		}
		rv.topics[ev.Topic] = append(list, stored{ev: ev, id: rec.ID, multi: len(rec.Topics) > 1, seg: seg})
	}
}

// install makes the records read back the broker's history, as if they
// had just been published in id order, then applies its bounds. No
// other goroutine uses b yet.
func (b *Broker) install(rv *recovered, rec seglog.Recovery, ds seglog.Dataset) {
	now := b.now()
	b.first = ds.First
	b.last = rec.MaxID
	if b.last.Less(ds.Floor) {
		b.last = ds.Floor
	}
	if b.last.Less(b.first) {
		b.last = b.first
	}
	b.lostBefore = rec.LostBefore
	for i := range b.shards {
		b.shards[i].forgot.base = ds.Floor
	}
	type newest struct {
		t  *memTopic
		id streamid.ID
	}
	order := make([]newest, 0, len(rv.topics))
	for name, list := range rv.topics {
		// Copies made when a segment was compacted may be out of order,
		// and twice in the log if a crash came between the copy and the
		// segment's deletion: sort, keep the later copy.
		slices.SortStableFunc(list, func(x, y stored) int { return streamid.Compare(x.id, y.id) })
		kept := list[:0]
		n := TopicBytes(name)
		for i, s := range list {
			if i+1 < len(list) && list[i+1].id == s.id {
				continue
			}
			kept = append(kept, s)
			n += EventBytes(s.ev)
			s.seg.Ref(1)
		}
		clear(list[len(kept):])
		sh, h := b.shardOf(name)
		t := sh.topic(name, h)
		t.history, t.bytes = kept, n
		b.bytes.Add(int64(n))
		order = append(order, newest{t: t, id: kept[len(kept)-1].id})
	}
	slices.SortFunc(order, func(x, y newest) int { return streamid.Compare(x.id, y.id) })
	for _, o := range order {
		b.order.pushFront(o.t)
	}
	for name, id := range rec.LostTopics {
		sh, h := b.shardOf(name)
		t := sh.topic(name, h)
		t.lost = maxID(t.lost, id)
	}
	for i := range b.shards {
		sh := &b.shards[i]
		for _, t := range sh.topics {
			// Events up to the floor may be gone from the files for any
			// topic, and so may a damaged record's.
			t.trimmed = maxID(maxID(t.trimmed, ds.Floor), t.lost)
			b.trim(t, now)
			sh.forgetIfIdle(t, b.hash(t.name))
		}
	}
	b.enforceBounds()
	slices.SortFunc(rv.idem, func(x, y recoveredIdem) int { return cmp.Compare(x.rec.at.UnixNano(), y.rec.at.UnixNano()) })
	for _, r := range rv.idem {
		if now.Sub(r.rec.at) < b.opts.HistoryAge {
			b.idem.add(r.scope, r.rec, b.opts.IdempotencyMaxRecords)
		}
	}
}

// maxID returns the later of a and b.
func maxID(a, b streamid.ID) streamid.ID {
	if a.Less(b) {
		return b
	}
	return a
}
