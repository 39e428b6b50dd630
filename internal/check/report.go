package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Report is the verdict of a run. Lost, Phantom, Duplicate and Reordered
// are violations of the delivery promise; the rest describes the run.
// `ssevents bench --check --json` prints it as one JSON object.
type Report struct {
	// RunID names the run; its topics are "check-<RunID>-<i>".
	RunID string `json:"run_id"`
	// Streams is how many subscribers were started; StreamsOpened how
	// many connected at least once.
	Streams       int `json:"streams"`
	StreamsOpened int `json:"streams_opened"`

	// Lost counts (stream, event) pairs: an acknowledged event on one of
	// the stream's topics, published after the stream first opened, that
	// it neither received nor was told to resync at or after the publish
	// started.
	Lost int `json:"lost"`
	// Phantom counts deliveries of an event whose publish was never
	// acknowledged, or whose id or topic differs from the acknowledged
	// one (the publish executed twice). A publish of unknown outcome (no
	// answer, 502 or 504) that the retry after the run could not settle
	// either may be delivered, once.
	Phantom int `json:"phantom"`
	// Duplicate counts deliveries of a (topic, id) a stream had already
	// received, on any of its connections.
	Duplicate int `json:"duplicate"`
	// Reordered counts deliveries, not duplicates, whose id is not
	// greater than the previous one of the same topic on the stream.
	Reordered int `json:"reordered"`
	// Resyncs received, and how many of them were justified: the hub's
	// reason held against what the checker saw. A resync must come first
	// on a connection that resumed from an id, and name one topic and a
	// reason: history_exceeded when more acknowledged events of the topic
	// followed that id than HistorySize, or the first of them is older
	// than HistoryAge, and one of them is older than the oldest id the hub
	// says it holds; evicted when such an event exists; dataset_changed
	// when the id precedes the genesis the hub names and every stream of
	// the topic, on every URL, that resumed later from before the genesis
	// was told so too. An unjustified resync is a violation: it may hide
	// events the hub dropped.
	Resyncs          int `json:"resyncs"`
	ResyncsJustified int `json:"resyncs_justified"`
	// ResyncReasons counts the resyncs by the reason the hub gave ("none"
	// when it gave none).
	ResyncReasons map[string]int `json:"resync_reasons,omitempty"`

	// Published publishes (idempotency keys) attempted; Acked answered
	// 2xx in the end; Failed not, counted in FailedByStatus by the final
	// status ("503", ..., or "no answer"). Retries is the requests beyond
	// the first of each publish.
	Published      int            `json:"published"`
	Acked          int            `json:"acked"`
	Failed         int            `json:"failed"`
	FailedByStatus map[string]int `json:"failed_by_status,omitempty"`
	Retries        int            `json:"retries"`
	// Resolved publishes had an attempt that got no answer and no 2xx
	// during the run; the retry with the same key after it acknowledged
	// them (with the id of the attempt that took effect, if one did).
	// They count in Acked.
	Resolved int `json:"resolved"`

	// Expected deliveries (acknowledged events times the streams that
	// were open when they were published and subscribe to their topic),
	// Deliveries received, Reconnects beyond each stream's first
	// connection.
	Expected   int `json:"expected"`
	Deliveries int `json:"deliveries"`
	Reconnects int `json:"reconnects"`

	// Publish latency: from a publish's first request to its final
	// answer. Delivery latency: from the first request to receipt.
	PublishP50Ms  float64 `json:"publish_p50_ms"`
	PublishP99Ms  float64 `json:"publish_p99_ms"`
	DeliveryP50Ms float64 `json:"delivery_p50_ms"`
	DeliveryP99Ms float64 `json:"delivery_p99_ms"`

	// Examples holds up to five lines per invariant ("lost", "phantom",
	// "duplicate", "reordered", and "resyncs" for unjustified ones) that
	// say which stream and event broke it, and why.
	Examples map[string][]string `json:"examples,omitempty"`
}

// OK reports whether the run kept the promise: nothing lost, phantom,
// duplicated or reordered, and every resync justified.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Phantom == 0 && r.Duplicate == 0 && r.Reordered == 0 && r.ResyncsJustified == r.Resyncs
}

// Violations summarises the broken invariants, e.g.
// "lost 3, duplicate 1, unjustified resync 2", or "" when OK.
func (r Report) Violations() string {
	var parts []string
	for _, v := range []struct {
		name string
		n    int
	}{{"lost", r.Lost}, {"phantom", r.Phantom}, {"duplicate", r.Duplicate}, {"reordered", r.Reordered},
		{"unjustified resync", r.Resyncs - r.ResyncsJustified}} {
		if v.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v.name, v.n))
		}
	}
	return strings.Join(parts, ", ")
}

// String returns the report as text: one line per invariant, starting with
// its name and count and followed by its example lines (indented), then
// lines for the publishes, deliveries and latencies.
func (r Report) String() string {
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-11s "+format+"\n", append([]any{name}, args...)...)
		for _, ex := range r.Examples[name] {
			fmt.Fprintf(&b, "  %s\n", ex)
		}
	}
	line("lost", "%d", r.Lost)
	line("phantom", "%d", r.Phantom)
	line("duplicate", "%d", r.Duplicate)
	line("reordered", "%d", r.Reordered)
	line("resyncs", "%d (justified %d)%s", r.Resyncs, r.ResyncsJustified, r.reasons())
	fmt.Fprintf(&b, "%-11s %d acked %d failed %d%s retries %d resolved %d\n", "published", r.Published, r.Acked, r.Failed, r.failures(), r.Retries, r.Resolved)
	fmt.Fprintf(&b, "%-11s %d of %d expected  reconnects %d  streams %d (opened %d)\n", "deliveries", r.Deliveries, r.Expected, r.Reconnects, r.Streams, r.StreamsOpened)
	fmt.Fprintf(&b, "%-11s p50 %.1fms p99 %.1fms\n", "publish", r.PublishP50Ms, r.PublishP99Ms)
	fmt.Fprintf(&b, "%-11s p50 %.1fms p99 %.1fms\n", "delivery", r.DeliveryP50Ms, r.DeliveryP99Ms)
	return b.String()
}

// reasons formats ResyncReasons as " by reason: dataset_changed 2, evicted 1".
func (r Report) reasons() string {
	if len(r.ResyncReasons) == 0 {
		return ""
	}
	return " by reason: " + counts(r.ResyncReasons, " ")
}

// failures formats FailedByStatus as " (503: 2, no answer: 1)".
func (r Report) failures() string {
	if len(r.FailedByStatus) == 0 {
		return ""
	}
	return " (" + counts(r.FailedByStatus, ": ") + ")"
}

// counts formats m as "k1<sep>n1, k2<sep>n2", keys in order.
func counts(m map[string]int, sep string) string {
	kinds := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s%s%d", k, sep, m[k])
	}
	return strings.Join(parts, ", ")
}
