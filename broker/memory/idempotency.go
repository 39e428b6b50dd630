package memory

import (
	"crypto/sha256"
	"time"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/sse"
)

// idemScope identifies a publish for its idempotency key: a hash of the
// key, so that a record has a fixed size however long its key is.
type idemScope [sha256.Size]byte

// idemRecord is the outcome of a publish made with an idempotency key.
type idemRecord struct {
	id  string
	fp  sse.Fingerprint // the request the key was first used for
	at  time.Time
	seg *seglog.Segment // the segment of its record, with a data directory
}

// idemEntry is a record's place in the order the records were made in.
type idemEntry struct {
	scope idemScope
	id    string // the record's id: a scope published anew has a later entry
}

// idemRecords are the idempotency records, kept HistoryAge and at most
// IdempotencyMaxRecords, oldest forgotten first, and the keys of the
// publishes in flight. Guarded by Broker.idemMu.
type idemRecords struct {
	byScope  map[idemScope]idemRecord
	order    []idemEntry // oldest first from head; may hold entries of replaced records
	head     int
	inflight map[idemScope]struct{} // reserved, not yet recorded (see reserve)
}

// idempotencyScope returns what identifies a publish for its idempotency
// key.
func idempotencyScope(key string) idemScope {
	return sha256.Sum256([]byte(key))
}

// reserve takes the key of a publish (scope, fingerprint fp) for the
// caller to publish, or answers it from its record: the recorded id and
// done for a retry of the same request within age of now; an
// *sse.IdempotencyKeyError for the key used for another request
// (ErrIdempotencyKeyReused) or reserved by a publish still in flight
// (ErrIdempotencyKeyInFlight). Every reservation (done false, err nil)
// must be followed by settle.
func (r *idemRecords) reserve(key string, scope idemScope, fp sse.Fingerprint, now time.Time, age time.Duration) (id string, done bool, err error) {
	if _, busy := r.inflight[scope]; busy {
		return "", false, sse.NewIdempotencyKeyError(key, sse.ErrIdempotencyKeyInFlight)
	}
	if rec, ok := r.byScope[scope]; ok && now.Sub(rec.at) < age {
		if rec.fp != fp {
			return "", false, sse.NewIdempotencyKeyError(key, sse.ErrIdempotencyKeyReused)
		}
		return rec.id, true, nil // a retry: published already
	}
	if r.inflight == nil {
		r.inflight = make(map[idemScope]struct{})
	}
	r.inflight[scope] = struct{}{}
	return "", false, nil
}

// settle ends the reservation of scope: when the publish succeeded (id
// not ""), it records id and fp for scope, forgetting the oldest records
// past limit; after a failure, the key is free for a retry.
func (r *idemRecords) settle(scope idemScope, fp sse.Fingerprint, id string, now time.Time, limit int, seg *seglog.Segment) {
	delete(r.inflight, scope)
	if id != "" {
		r.add(scope, idemRecord{id: id, fp: fp, at: now, seg: seg}, limit)
	}
}

// add records rec for scope, forgetting the oldest records past limit.
func (r *idemRecords) add(scope idemScope, rec idemRecord, limit int) {
	if r.byScope == nil {
		r.byScope = make(map[idemScope]idemRecord)
	}
	if old, ok := r.byScope[scope]; ok && old.seg != nil {
		old.seg.Ref(-1)
	}
	if rec.seg != nil {
		rec.seg.Ref(1)
	}
	r.byScope[scope] = rec
	r.order = append(r.order, idemEntry{scope: scope, id: rec.id})
	for len(r.byScope) > limit {
		r.popOldest()
	}
}

// expire forgets the records older than age.
func (r *idemRecords) expire(now time.Time, age time.Duration) {
	for r.head < len(r.order) {
		rec, ok := r.byScope[r.order[r.head].scope]
		if ok && rec.id == r.order[r.head].id && now.Sub(rec.at) < age {
			return // the oldest live record is still fresh
		}
		r.popOldest()
	}
}

// popOldest drops the oldest entry of the order and its record, if the
// record is still the entry's.
func (r *idemRecords) popOldest() {
	e := r.order[r.head]
	if rec, ok := r.byScope[e.scope]; ok && rec.id == e.id {
		delete(r.byScope, e.scope)
		if rec.seg != nil {
			rec.seg.Ref(-1)
		}
	}
	r.order[r.head] = idemEntry{}
	r.head++
	// Reuse the order's array once its dead front is half of it.
	if r.head >= len(r.order)/2 {
		n := copy(r.order, r.order[r.head:])
		clear(r.order[n:])
		r.order = r.order[:n]
		r.head = 0
	}
}
