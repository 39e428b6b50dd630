package main

import (
	"slices"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// outcome is what a publish's answers said about it.
type outcome int

const (
	// acked: answered 200 with an id; the event is in the topic.
	acked outcome = iota
	// refused: answered only with errors that mean "not published"
	// (4xx, 503); delivering it is a phantom.
	refused
	// unknown: no answer, 502 or 504 after every attempt; it may or may
	// not have been published, so it may be delivered once or not at all.
	unknown
)

// pub is one event the tool published: its identity (the data it
// carries, the JSON string "t<topic>:<seq>" with its quotes, as streams
// receive it), its Idempotency-Key and what its publish was answered.
type pub struct {
	data    string
	key     string
	outcome outcome
	id      streamid.ID // the acknowledged id when outcome is acked
	ackedAt time.Time   // when the acknowledgement arrived
}

// delivery is one event a stream received (not a resync).
type delivery struct {
	id   string
	data string
	at   time.Time
}

// resyncMark is one `event: resync` a stream received: its id (the
// hub's cursor, maybe empty) and when the connection that carried it
// sent its request.
type resyncMark struct {
	cursor    string
	connStart time.Time
}

// verdict is the judgement of one stream's history.
type verdict struct {
	received   int // events delivered, duplicates included
	expected   int // acknowledged events of the stream's topic
	lost       int // acknowledged, never delivered, not covered by a resync
	covered    int // acknowledged, never delivered, covered by a resync
	duplicates int // an id delivered a second time
	outOfOrder int // an id not greater than one delivered before it
	phantom    int // delivered, but refused, unknown to the tool, or with another id than acknowledged
}

// add adds o's counts to v.
func (v *verdict) add(o verdict) {
	v.received += o.received
	v.expected += o.expected
	v.lost += o.lost
	v.covered += o.covered
	v.duplicates += o.duplicates
	v.outOfOrder += o.outOfOrder
	v.phantom += o.phantom
}

// violations is how many deliveries broke the promise: lost, duplicate,
// out of order or phantom.
func (v verdict) violations() int {
	return v.lost + v.duplicates + v.outOfOrder + v.phantom
}

// judge checks one stream's deliveries against every event published
// to its topic (the stream was open before the first publish, so it is
// owed every acknowledged one): ids strictly increasing, none twice,
// none missing unless a resync covers it, none that was not published.
// A resync covers an event when its cursor is at or after the event's
// id, or, without a cursor, when the event was acknowledged before the
// connection that carried the resync was requested.
func judge(pubs []*pub, got []delivery, resyncs []resyncMark) verdict {
	var v verdict
	byData := make(map[string]*pub, len(pubs))
	for _, p := range pubs {
		byData[p.data] = p
		if p.outcome == acked {
			v.expected++
		}
	}
	seen := make(map[string]bool, len(got))
	delivered := make(map[*pub]bool, len(got))
	var prev streamid.ID
	for _, d := range got {
		v.received++
		id, err := streamid.Parse(d.id)
		switch {
		case seen[d.id]:
			v.duplicates++
			continue
		case err != nil || !prev.Less(id):
			v.outOfOrder++
		}
		seen[d.id] = true
		if prev.Less(id) {
			prev = id
		}
		p := byData[d.data]
		if p == nil || p.outcome == refused || (p.outcome == acked && p.id != id) || delivered[p] {
			v.phantom++
			continue
		}
		delivered[p] = true
	}
	for _, p := range pubs {
		if p.outcome != acked || delivered[p] {
			continue
		}
		if coveredByResync(p, resyncs) {
			v.covered++
		} else {
			v.lost++
		}
	}
	return v
}

// coveredByResync says whether one of resyncs told the stream to
// refetch what p carried.
func coveredByResync(p *pub, resyncs []resyncMark) bool {
	for _, r := range resyncs {
		if r.cursor == "" {
			if p.ackedAt.Before(r.connStart) {
				return true
			}
			continue
		}
		if c, err := streamid.Parse(r.cursor); err == nil && !c.Less(p.id) {
			return true
		}
	}
	return false
}

// quantile returns the q-quantile (0 <= q <= 1; 0 is the least) of ds by
// nearest rank, or 0 for none. It sorts ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.999999) - 1
	i = max(0, min(i, len(ds)-1))
	return ds[i]
}
