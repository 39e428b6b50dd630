package check

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// maxExamples is how many example lines the report keeps per invariant:
// enough to start debugging, few enough to read.
const maxExamples = 5

// judge checks the invariants over the recorded history; bounds are the
// hub's history bounds, to judge resyncs by.
func judge(streams []streamLog, pubs []*publishLog, bounds historyBounds) Report {
	var r Report
	r.Streams = len(streams)
	byKey := make(map[string]*publishLog, len(pubs))
	byTopic := map[string][]*publishLog{}
	var pubLat []time.Duration
	for _, p := range pubs {
		byKey[p.key] = p
		r.Published++
		r.Retries += max(len(p.attempts)-1, 0)
		pubLat = append(pubLat, p.answered().Sub(p.started()))
		if p.resolved {
			r.Resolved++
		}
		if p.acked {
			r.Acked++
			byTopic[p.topic] = append(byTopic[p.topic], p)
			continue
		}
		r.Failed++
		if r.FailedByStatus == nil {
			r.FailedByStatus = map[string]int{}
		}
		r.FailedByStatus[failureKind(p.finalStatus)]++
	}
	var delLat []time.Duration
	rj := newResyncJudge(streams, byTopic, bounds)
	for i := range streams {
		s := &streams[i]
		if !s.opened.IsZero() {
			r.StreamsOpened++
			r.Reconnects += max(s.conns-1, 0)
		}
		r.Deliveries += len(s.deliveries)
		judgeDeliveries(&r, s, byKey, &delLat)
		judgeLost(&r, s, byTopic)
		rj.judge(&r, s)
	}
	r.PublishP50Ms, r.PublishP99Ms = percentileMs(pubLat, 0.50), percentileMs(pubLat, 0.99)
	r.DeliveryP50Ms, r.DeliveryP99Ms = percentileMs(delLat, 0.50), percentileMs(delLat, 0.99)
	return r
}

// failureKind names the final failure of a publish for FailedByStatus.
func failureKind(status int) string {
	if status == 0 {
		return "no answer"
	}
	return strconv.Itoa(status)
}

// judgeDeliveries counts the phantom, duplicate and reordered deliveries
// of one stream, and collects delivery latencies.
func judgeDeliveries(r *Report, s *streamLog, byKey map[string]*publishLog, lat *[]time.Duration) {
	seen := map[string]bool{}
	last := map[string]streamid.ID{}
	for _, d := range s.deliveries {
		p := byKey[d.key]
		switch {
		case p != nil && !p.acked && p.unanswered():
			// Its outcome stayed unknown (the retry after the run got no
			// answer either): it may be delivered, once (see Duplicate).
		case p == nil || !p.acked:
			r.Phantom++
			r.example("phantom", "stream %d: event %s on %q (key %q) was never acknowledged", s.index, d.id, d.topic, d.key)
		case d.id != p.id || d.topic != p.topic:
			r.Phantom++
			r.example("phantom", "stream %d: event %s on %q (key %q) but the publish was acknowledged as %s on %q: it executed twice", s.index, d.id, d.topic, d.key, p.id, p.topic)
		default:
			*lat = append(*lat, d.at.Sub(p.started()))
		}
		k := d.topic + "\x00" + d.id
		if seen[k] {
			r.Duplicate++
			r.example("duplicate", "stream %d: event %s on %q delivered again (connection %d)", s.index, d.id, d.topic, d.conn)
			continue
		}
		seen[k] = true
		id, err := streamid.Parse(d.id)
		if err != nil {
			continue
		}
		if prev, ok := last[d.topic]; ok && !prev.Less(id) {
			r.Reordered++
			r.example("reordered", "stream %d: event %s on %q after %s (connection %d)", s.index, d.id, d.topic, prev, d.conn)
			continue
		}
		last[d.topic] = id
	}
}

// judgeLost counts the acknowledged events one stream was owed and did not
// receive, excusing those a later resync of their topic covers.
func judgeLost(r *Report, s *streamLog, byTopic map[string][]*publishLog) {
	if s.opened.IsZero() {
		return
	}
	got := map[string]bool{}
	for _, d := range s.deliveries {
		got[d.topic+"\x00"+d.id] = true
	}
	for _, t := range s.topics {
		for _, p := range byTopic[t] {
			if p.started().Before(s.opened) {
				continue
			}
			r.Expected++
			if got[t+"\x00"+p.id] || excused(s.resyncs, t, p) {
				continue
			}
			r.Lost++
			r.example("lost", "stream %d: event %s on %q (key %q, acknowledged at %s) never delivered and no resync of %q after it", s.index, p.id, t, p.key, p.answered().Format(time.StampMilli), t)
		}
	}
}

// excused reports whether a resync covers p, an event of topic the stream
// never received: a resync naming topic that arrived at or after p's
// publish started, while the stream's last event of topic before the
// resync preceded p. An event older than one the stream did receive on its
// topic is a gap in the middle, which no later resync excuses.
func excused(resyncs []resync, topic string, p *publishLog) bool {
	id, idErr := streamid.Parse(p.id)
	for _, rs := range resyncs {
		if rs.at.Before(p.started()) || !slices.Contains(rs.topics, topic) {
			continue
		}
		if pos, err := streamid.Parse(rs.lastID[topic]); err == nil && idErr == nil && !pos.Less(id) {
			continue
		}
		return true
	}
	return false
}

// percentileMs returns the q-quantile of ds in milliseconds; 0 for none.
func percentileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}

// example adds an example line for invariant, up to maxExamples.
func (r *Report) example(invariant, format string, args ...any) {
	if r.Examples == nil {
		r.Examples = map[string][]string{}
	}
	if len(r.Examples[invariant]) < maxExamples {
		r.Examples[invariant] = append(r.Examples[invariant], fmt.Sprintf(format, args...))
	}
}
