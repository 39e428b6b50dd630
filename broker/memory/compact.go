package memory

import (
	"slices"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/internal/streamid"
)

// maintainLog keeps the data directory within its bound: it deletes the
// oldest segments once the history holds none of their records, and,
// while the files are over twice HistoryMaxBytes, copies the records the
// oldest segment still holds to the newest so that it can go. Run by the
// janitor.
func (b *Broker) maintainLog() {
	if b.keepSegments {
		return
	}
	budget := 2 * int64(b.opts.HistoryMaxBytes)
	segs := b.log.Segments()
	for rounds := len(segs) - 1; rounds > 0; rounds-- {
		segs = b.log.Segments()
		if len(segs) < 2 {
			return
		}
		s := segs[0]
		if s.Refs() > 0 {
			if b.log.Size() <= budget {
				return
			}
			if err := b.compact(s); err != nil {
				// The copies' references moved, their records may not be
				// on disk: delete no segment until a restart reads the
				// files back.
				b.keepSegments = true
				b.opts.Logger.Error("ssevents: history compaction failed; no segment is deleted until a restart", "err", err)
				b.opts.Observer.BrokerError()
				return
			}
			if s.Refs() > 0 {
				return // published to meanwhile? try again next time
			}
		}
		if err := b.log.Drop(s); err != nil {
			b.opts.Logger.Error("ssevents: history segment not deleted", "err", err)
			b.opts.Observer.BrokerError()
			return
		}
	}
}

// compact copies the records of s, a complete segment, that the history
// (or an idempotency record) still holds to the newest segment, durably,
// and moves their references there.
func (b *Broker) compact(s *seglog.Segment) error {
	var batch *seglog.Batch
	err := b.log.ReadSegment(s, func(rec *seglog.Record) {
		if bt := b.copyForward(s, rec); bt != nil {
			batch = bt
		}
	})
	if err != nil {
		return err
	}
	if batch == nil {
		return nil
	}
	return b.log.Flush() // writes and syncs the copies, wherever their batch is
}

// copyForward appends a copy of rec, a record of s, with those of its
// topics whose history still holds it from s, and its idempotency record
// if that is still s's, and returns the batch it went to; nil when
// nothing holds rec any more.
func (b *Broker) copyForward(s *seglog.Segment, rec *seglog.Record) *seglog.Batch {
	hashes := make([]uint64, len(rec.Topics))
	for i, name := range rec.Topics {
		hashes[i] = b.hash(name)
	}
	shards := b.shardIndexes(nil, hashes)
	b.lock(shards)
	defer b.unlock(shards)
	var live []*stored
	var topics []string
	for i, name := range rec.Topics {
		t, ok := b.shards[hashes[i]&b.mask].topics[name]
		if !ok {
			continue
		}
		if j, ok := slices.BinarySearchFunc(t.history, rec.ID, compareStored); ok && t.history[j].seg == s {
			live = append(live, &t.history[j])
			topics = append(topics, name)
		}
	}
	b.idemMu.Lock()
	defer b.idemMu.Unlock()
	idem, idemLive := idemRecord{}, false
	if rec.Idempotent {
		idem, idemLive = b.idem.byScope[rec.Scope]
		idemLive = idemLive && idem.seg == s && idem.id == rec.ID.String()
	}
	if len(live) == 0 && !idemLive {
		return nil
	}
	cp := *rec
	cp.Topics, cp.Idempotent = topics, idemLive
	batch, ns := b.log.Append(&cp)
	for _, st := range live {
		st.seg = ns
		ns.Ref(1)
		s.Ref(-1)
	}
	if idemLive {
		idem.seg = ns
		b.idem.byScope[rec.Scope] = idem
		ns.Ref(1)
		s.Ref(-1)
	}
	return batch
}

// compareStored orders a history's entry against an id, for a binary
// search.
func compareStored(s stored, id streamid.ID) int { return streamid.Compare(s.id, id) }
