package memory

import (
	"crypto/sha256"
	"slices"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// idemScope identifies a publish for its idempotency key: a hash of the
// key and the message's topics (in any order), so that a record has a
// fixed size however long its key and topics are.
type idemScope [sha256.Size]byte

// idemRecord is the outcome of a publish made with an idempotency key.
type idemRecord struct {
	id string
	at time.Time
}

// idemEntry is a record's place in the order the records were made in.
type idemEntry struct {
	scope idemScope
	id    string // the record's id: a scope published anew has a later entry
}

// idemRecords are the idempotency records, kept HistoryAge and at most
// IdempotencyMaxRecords, oldest forgotten first. Guarded by Broker.idemMu.
type idemRecords struct {
	byScope map[idemScope]idemRecord
	order   []idemEntry // oldest first from head; may hold entries of replaced records
	head    int
}

// idempotencyScope returns what identifies a publish for its idempotency
// key: the key and the message's topics (in any order).
func idempotencyScope(msg sse.Message) idemScope {
	topics := msg.Topics
	if len(topics) > 1 {
		topics = slices.Clone(topics)
		slices.Sort(topics)
		topics = slices.Compact(topics)
	}
	h := sha256.New()
	h.Write([]byte(msg.IdempotencyKey))
	for _, t := range topics {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	var s idemScope
	h.Sum(s[:0])
	return s
}

// lookup returns the id of the publish recorded for scope within age of
// now.
func (r *idemRecords) lookup(scope idemScope, now time.Time, age time.Duration) (string, bool) {
	rec, ok := r.byScope[scope]
	if !ok || now.Sub(rec.at) >= age {
		return "", false
	}
	return rec.id, true
}

// add records the publish id for scope, forgetting the oldest records past
// max.
func (r *idemRecords) add(scope idemScope, id string, now time.Time, limit int) {
	if r.byScope == nil {
		r.byScope = make(map[idemScope]idemRecord)
	}
	r.byScope[scope] = idemRecord{id: id, at: now}
	r.order = append(r.order, idemEntry{scope: scope, id: id})
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
