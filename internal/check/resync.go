package check

import (
	"fmt"
	"slices"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// The reasons a hub gives for a resync (sse.ResyncReason).
const (
	reasonHistoryExceeded = "history_exceeded"
	reasonEvicted         = "evicted"
	reasonDatasetChanged  = "dataset_changed"
)

// historyBounds are the hub's per-topic history bounds, as the run was
// told them (Config.HistorySize, Config.HistoryAge).
type historyBounds struct {
	size int
	age  time.Duration
}

// resyncJudge decides whether each resync was justified by what the
// checker itself saw: the acknowledged events, and every stream of every
// URL.
type resyncJudge struct {
	byTopic map[string][]*publishLog // acknowledged publishes, by topic, in id order
	bounds  historyBounds
	// refuted holds the dataset changes (topic, genesis) that some stream
	// contradicts, with why.
	refuted map[[2]string]string
}

// newResyncJudge prepares the judgement of the resyncs of streams: it
// sorts the acknowledged publishes by id and checks every claimed dataset
// change against every stream.
func newResyncJudge(streams []streamLog, byTopic map[string][]*publishLog, bounds historyBounds) *resyncJudge {
	j := &resyncJudge{byTopic: map[string][]*publishLog{}, bounds: bounds, refuted: map[[2]string]string{}}
	for t, ps := range byTopic {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, func(a, b *publishLog) int {
			x, y := parseID(a.id), parseID(b.id)
			switch {
			case x.Less(y):
				return -1
			case y.Less(x):
				return 1
			}
			return 0
		})
		j.byTopic[t] = ps
	}
	j.checkDatasets(streams)
	return j
}

// parseID parses id; zero for one that does not parse.
func parseID(id string) streamid.ID {
	p, _ := streamid.Parse(id)
	return p
}

// judge counts s's resyncs, the justified ones, and the reasons given.
func (j *resyncJudge) judge(r *Report, s *streamLog) {
	for _, rs := range s.resyncs {
		r.Resyncs++
		if r.ResyncReasons == nil {
			r.ResyncReasons = map[string]int{}
		}
		reason := rs.reason
		if reason == "" {
			reason = "none"
		}
		r.ResyncReasons[reason]++
		why := j.unjustified(rs)
		if why == "" {
			r.ResyncsJustified++
			continue
		}
		r.example("resyncs", "stream %d: unjustified resync of %q (%s) at %s, connection %d resumed from %q: %s",
			s.index, rs.topics, reason, rs.at.Format(time.StampMilli), rs.conn, rs.from, why)
	}
}

// unjustified returns why rs is not justified by what the checker saw, or
// "" when it is. A hub sends a resync only as the first thing on a
// connection that resumed from an id, for a topic whose events after that
// id it cannot all replay, and says why: each claim is checked.
func (j *resyncJudge) unjustified(rs resync) string {
	switch {
	case !rs.first:
		return "it came after events on its connection: a hub resyncs only when a connection resumes"
	case rs.from == "":
		return "its connection resumed from no id: there was nothing to replay"
	case rs.topic == "" || len(rs.topics) != 1 || rs.topics[0] != rs.topic:
		return "it names no single topic (or its topic and topics differ)"
	}
	from, err := streamid.Parse(rs.from)
	if err != nil {
		return "the id it resumed from does not parse"
	}
	switch rs.reason {
	case reasonHistoryExceeded, reasonEvicted:
		missed := j.missed(rs, from)
		if missed == nil {
			return fmt.Sprintf("no acknowledged event of %q followed %s that the hub no longer holds (oldest %q)", rs.topic, rs.from, rs.oldest)
		}
		if rs.reason == reasonEvicted {
			// The hub's memory bounds are beyond what the checker sees:
			// an event was missed and is gone, as the hub says.
			return ""
		}
		gap := 0
		for _, p := range j.byTopic[rs.topic] {
			if from.Less(parseID(p.id)) && p.started().Before(rs.at) {
				gap++
			}
		}
		if gap > j.bounds.size || !missed.started().Add(j.bounds.age).After(rs.at) {
			return ""
		}
		return fmt.Sprintf("%d events followed %s, within --history-size %d, and the first, %s, was %v old, within --history-age %v",
			gap, rs.from, j.bounds.size, missed.id, rs.at.Sub(missed.started()).Round(time.Millisecond), j.bounds.age)
	case reasonDatasetChanged:
		g, err := streamid.Parse(rs.genesis)
		if err != nil {
			return fmt.Sprintf("no genesis id (%q) for the new dataset", rs.genesis)
		}
		if !from.Less(g) {
			return fmt.Sprintf("it resumed from %s, not before the new dataset's genesis %s", rs.from, rs.genesis)
		}
		return j.refuted[[2]string{rs.topic, rs.genesis}]
	case "":
		return "the hub gave no reason"
	}
	return fmt.Sprintf("unknown reason %q", rs.reason)
}

// missed returns the first acknowledged event of rs.topic after from,
// published before the resync, that the hub says it no longer holds
// (older than rs.oldest); nil when there is none.
func (j *resyncJudge) missed(rs resync, from streamid.ID) *publishLog {
	oldest, err := streamid.Parse(rs.oldest)
	for _, p := range j.byTopic[rs.topic] {
		id := parseID(p.id)
		if !from.Less(id) || !p.started().Before(rs.at) {
			continue
		}
		if rs.oldest != "" && err == nil && !id.Less(oldest) {
			return nil // the first event after from is still held
		}
		return p
	}
	return nil
}

// checkDatasets checks each claimed dataset change (a topic and the new
// dataset's genesis) against every stream of the topic, on every URL: once
// a stream was told of it, every connection of a stream of that topic
// that opened later and resumed from an id before the genesis must have
// been told too. One that was not (its events were replayed instead)
// shows that the hub still held the dataset the claim says is gone.
func (j *resyncJudge) checkDatasets(streams []streamLog) {
	first := map[[2]string]time.Time{}
	for i := range streams {
		for _, rs := range streams[i].resyncs {
			if rs.reason != reasonDatasetChanged {
				continue
			}
			k := [2]string{rs.topic, rs.genesis}
			if at, ok := first[k]; !ok || rs.at.Before(at) {
				first[k] = rs.at
			}
		}
	}
	for k, at := range first {
		g, err := streamid.Parse(k[1])
		if err != nil {
			continue
		}
		for i := range streams {
			s := &streams[i]
			if !slices.Contains(s.topics, k[0]) {
				continue
			}
			for n, c := range s.connInfo {
				from, err := streamid.Parse(c.from)
				if err != nil || !c.at.After(at) || !from.Less(g) || slices.Contains(c.resynced, k[0]) {
					continue
				}
				if _, done := j.refuted[k]; !done {
					j.refuted[k] = fmt.Sprintf("stream %d (%s) resumed from %s on connection %d after the change and got no resync of %q: the hub still held the old dataset",
						s.index, s.url, c.from, n+1, k[0])
				}
			}
		}
	}
}
