package ssevents

import (
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ssevents/ssevents/sse"
)

// Metrics counts what an instance does: connections, messages, drops,
// latencies and broker faults. One set of atomic counters feeds both the
// JSON /metrics document and the Prometheus exposition, so the two always
// agree. The Prometheus names are those of fastapi-sse-events
// (sse_connections_current, sse_connections_rejected,
// sse_messages_delivered, sse_messages_dropped, sse_publish_latency_ms), so
// existing dashboards and PromQL keep working. Safe for concurrent use.
type Metrics struct {
	connsCurrent  atomic.Int64
	connsTotal    atomic.Int64
	rejectedFull  atomic.Int64 // over MaxConnections
	rejectedAuth  atomic.Int64 // 401/403
	rejectedBad   atomic.Int64 // 400
	published     atomic.Int64
	publishErrors atomic.Int64
	delivered     atomic.Int64
	dropped       atomic.Int64
	slowConsumers atomic.Int64
	replayed      atomic.Int64
	resyncs       atomic.Int64
	brokerErrors  atomic.Int64
	reconnects    atomic.Int64
	malformed     atomic.Int64 // broker channel messages that were not an event envelope

	// Presence (Config.Presence).
	presenceStreams         atomic.Int64 // open streams of tracked topics
	presenceJoins           atomic.Int64 // joins handed to OnPresence and the webhook here
	presenceLeaves          atomic.Int64 // leaves, likewise
	presenceWebhookFailures atomic.Int64 // failed webhook attempts

	// The authorization stage (Handler.admit).
	rejectedPending atomic.Int64 // over MaxPendingAuth
	pendingAuth     atomic.Int64 // requests waiting for Config.Authorize

	latMu      sync.Mutex
	latAvgMs   float64 // exponentially weighted moving average of publish latency
	latCount   int64
	latSumMs   float64
	publishLat prometheus.Histogram
	deliverLat prometheus.Histogram

	topics func() int
	// disk, when the broker keeps its history on disk, returns the bytes
	// of its files and the fsyncs made.
	disk func() (bytes, fsyncs int64)

	reg *prometheus.Registry
}

// latencyEWMAWeight is the weight of the newest publish in
// sse_publish_latency_ms: about the last 20 publishes dominate.
const latencyEWMAWeight = 0.05

// NewMetrics returns zeroed metrics with their own Prometheus registry
// (which also carries the Go runtime and process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.publishLat = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sse_publish_latency_seconds", Help: "Time a Publish call takes, in seconds.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	m.deliverLat = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sse_delivery_latency_seconds", Help: "Time from publish to the event being written to a client, in seconds.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	const rejHelp = "Subscriptions refused before the stream started, by reason."
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.publishLat, m.deliverLat,
		gauge("sse_connections_current", "Open SSE streams.", func() float64 { return float64(m.connsCurrent.Load()) }),
		counter("sse_connections_total", "SSE streams opened.", &m.connsTotal, nil),
		counter("sse_connections_rejected", rejHelp, &m.rejectedFull, prometheus.Labels{"reason": "max_connections"}),
		counter("sse_connections_rejected", rejHelp, &m.rejectedAuth, prometheus.Labels{"reason": "unauthorized"}),
		counter("sse_connections_rejected", rejHelp, &m.rejectedBad, prometheus.Labels{"reason": "bad_request"}),
		counter("sse_connections_rejected", rejHelp, &m.rejectedPending, prometheus.Labels{"reason": "pending_auth"}),
		gauge("sse_authorizations_pending", "Subscribe requests waiting for the authorizer.", func() float64 { return float64(m.pendingAuth.Load()) }),
		counter("sse_messages_published", "Events published through this instance.", &m.published, nil),
		counter("sse_publish_errors", "Publishes that failed.", &m.publishErrors, nil),
		counter("sse_messages_delivered", "Events written to clients.", &m.delivered, nil),
		counter("sse_messages_dropped", "Events not delivered because a subscriber's queue overflowed.", &m.dropped, nil),
		counter("sse_slow_consumers_disconnected", "Streams ended because their queue overflowed.", &m.slowConsumers, nil),
		counter("sse_messages_replayed", "Events sent from history on resume.", &m.replayed, nil),
		counter("sse_resyncs", "Resync events sent (one per topic) because history did not cover a resume.", &m.resyncs, nil),
		counter("sse_broker_errors", "Broker backend errors (Redis unreachable, command failures).", &m.brokerErrors, nil),
		counter("sse_broker_reconnects", "Broker backend reconnections.", &m.reconnects, nil),
		counter("sse_envelopes_malformed_total", "Messages on the broker's channels dropped because they are not a valid event envelope (a foreign publisher's mistake).", &m.malformed, nil),
		gauge("sse_presence_streams", "Open streams of topics tracked for presence (SSE_PRESENCE).", func() float64 { return float64(m.presenceStreams.Load()) }),
		counter("sse_presence_joins_total", "Presence joins this instance handed to OnPresence and the webhook (each join once per cluster: sum over instances).", &m.presenceJoins, nil),
		counter("sse_presence_leaves_total", "Presence leaves this instance handed to OnPresence and the webhook (each leave once per cluster: sum over instances).", &m.presenceLeaves, nil),
		counter("sse_presence_webhook_failures_total", "Failed attempts to POST a join or leave to SSE_PRESENCE_WEBHOOK_URL (each is retried).", &m.presenceWebhookFailures, nil),
		gauge("sse_publish_latency_ms", "Moving average of publish latency, in milliseconds.", func() float64 {
			m.latMu.Lock()
			defer m.latMu.Unlock()
			return m.latAvgMs
		}),
		gauge("sse_topics", "Topics with local subscribers or history.", func() float64 { return float64(m.topicCount()) }),
		gauge("sse_history_disk_bytes", "Bytes of the embedded broker's data directory (SSE_DATA_DIR); 0 without one.", func() float64 {
			n, _ := m.diskStats()
			return float64(n)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sse_history_fsyncs", Help: "Fsyncs of the embedded broker's data directory (one per group of publishes with SSE_FSYNC=always)."}, func() float64 {
			_, n := m.diskStats()
			return float64(n)
		}),
	)
	return m
}

// Registry returns the Prometheus registry the metrics are registered in;
// register your own collectors there to expose them on the same endpoint.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PrometheusHandler serves the metrics in the Prometheus text format.
func (m *Metrics) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observePublish records one publish and how long it took.
func (m *Metrics) observePublish(d time.Duration, err error) {
	if err != nil {
		m.publishErrors.Add(1)
		return
	}
	m.published.Add(1)
	m.publishLat.Observe(d.Seconds())
	ms := float64(d) / float64(time.Millisecond)
	m.latMu.Lock()
	if m.latCount == 0 {
		m.latAvgMs = ms
	} else {
		m.latAvgMs += latencyEWMAWeight * (ms - m.latAvgMs)
	}
	m.latCount++
	m.latSumMs += ms
	m.latMu.Unlock()
}

// observePublishError counts a publish that failed outside Publish (for
// example in the publish middleware).
func (m *Metrics) observePublishError() { m.publishErrors.Add(1) }

// BrokerError implements sse.Observer: it counts a broker backend error.
func (m *Metrics) BrokerError() { m.brokerErrors.Add(1) }

// BrokerReconnect implements sse.Observer: it counts a broker backend
// reconnection.
func (m *Metrics) BrokerReconnect() { m.reconnects.Add(1) }

// EnvelopeMalformed implements sse.EnvelopeObserver: it counts a message
// on a broker channel that was dropped because it is not a valid event
// envelope (sse_envelopes_malformed_total).
func (m *Metrics) EnvelopeMalformed() { m.malformed.Add(1) }

var _ sse.EnvelopeObserver = (*Metrics)(nil)

// countDelivered counts n events as delivered; a stream counts them as it
// writes them, so a client that has read an event finds it counted, and
// takes them back (-n) if the write fails.
func (m *Metrics) countDelivered(n int) { m.delivered.Add(int64(n)) }

// observeLatency records the delivery latency of evs, written at now.
func (m *Metrics) observeLatency(evs []sse.Event, now time.Time) {
	for i := range evs {
		if !evs[i].Time.IsZero() {
			m.deliverLat.Observe(now.Sub(evs[i].Time).Seconds())
		}
	}
}

// diskStats returns the data directory's bytes and fsyncs, zero without
// one.
func (m *Metrics) diskStats() (bytes, fsyncs int64) {
	if m.disk == nil {
		return 0, 0
	}
	return m.disk()
}

func (m *Metrics) topicCount() int {
	if m.topics == nil {
		return 0
	}
	return m.topics()
}

// Snapshot is the JSON document served at /metrics.
type Snapshot struct {
	// Connections counts SSE streams.
	Connections ConnectionStats `json:"connections"`
	// Messages counts events.
	Messages MessageStats `json:"messages"`
	// Topics is the number of topics with local subscribers or history.
	Topics int `json:"topics"`
	// Latency summarises publish latency.
	Latency LatencyStats `json:"latency"`
	// Broker counts backend faults.
	Broker BrokerStats `json:"broker"`
	// Presence counts presence (Config.Presence); zeros when it is off.
	Presence PresenceStats `json:"presence"`
}

// ConnectionStats is the "connections" part of a Snapshot.
type ConnectionStats struct {
	// Current is the number of open streams.
	Current int64 `json:"current"`
	// Total is the number of streams opened since start.
	Total int64 `json:"total"`
	// Rejected counts subscriptions refused before their stream started
	// (connection limit, pending-authorization limit, 401/403, 400).
	Rejected int64 `json:"rejected"`
	// RejectedMaxConnections counts 503s for the connection limit alone.
	RejectedMaxConnections int64 `json:"rejected_max_connections"`
	// RejectedPendingAuth counts 503s for Config.MaxPendingAuth alone.
	RejectedPendingAuth int64 `json:"rejected_pending_auth"`
	// PendingAuth is the number of subscribe requests waiting for the
	// authorizer now.
	PendingAuth int64 `json:"pending_auth"`
	// SlowDisconnected counts streams ended because their client could not
	// keep up (queue overflow or write timeout).
	SlowDisconnected int64 `json:"slow_disconnected"`
}

// MessageStats is the "messages" part of a Snapshot.
type MessageStats struct {
	// Published counts events published through this instance.
	Published int64 `json:"published"`
	// PublishErrors counts publishes that failed (validation or broker).
	PublishErrors int64 `json:"publish_errors"`
	// Delivered counts events written to clients.
	Delivered int64 `json:"delivered"`
	// Dropped counts events lost to a subscriber's queue overflow.
	Dropped int64 `json:"dropped"`
	// Replayed counts events sent from history on resume.
	Replayed int64 `json:"replayed"`
	// Resyncs counts resync events sent, one per topic a resume could not cover.
	Resyncs int64 `json:"resyncs"`
}

// LatencyStats is the "latency" part of a Snapshot, in milliseconds.
type LatencyStats struct {
	// PublishAvgMs is the mean publish latency since start.
	PublishAvgMs float64 `json:"publish_avg_ms"`
	// PublishRecentMs is the moving average over the latest publishes
	// (the value of sse_publish_latency_ms).
	PublishRecentMs float64 `json:"publish_recent_ms"`
	// PublishCount is the number of publishes measured.
	PublishCount int64 `json:"publish_count"`
}

// PresenceStats is the "presence" part of a Snapshot.
type PresenceStats struct {
	// Streams is the open streams of tracked topics on this instance.
	Streams int64 `json:"streams"`
	// Joins and Leaves count the changes this instance handed to
	// OnPresence and the webhook: each change once per cluster, so the
	// cluster's are the sum over its instances.
	Joins  int64 `json:"joins"`
	Leaves int64 `json:"leaves"`
	// WebhookFailures counts failed attempts to POST a change to
	// Config.PresenceWebhookURL (each is retried).
	WebhookFailures int64 `json:"webhook_failures"`
}

// BrokerStats is the "broker" part of a Snapshot.
type BrokerStats struct {
	// Errors counts broker backend errors.
	Errors int64 `json:"errors"`
	// Reconnects counts broker backend reconnections.
	Reconnects int64 `json:"reconnects"`
	// MalformedEnvelopes counts messages on the broker's channels dropped
	// because they are not a valid event envelope (for example a foreign
	// publisher's PUBLISH of something else than fastapi-sse-events'
	// {"event": ..., "data": ...}).
	MalformedEnvelopes int64 `json:"malformed_envelopes"`
	// DiskBytes is the size of the embedded broker's data directory
	// (SSE_DATA_DIR), 0 without one.
	DiskBytes int64 `json:"disk_bytes"`
	// Fsyncs counts the data directory's fsyncs: with SSE_FSYNC=always,
	// published / fsyncs is how many publishes share one (group commit).
	Fsyncs int64 `json:"fsyncs"`
}

// Snapshot returns the current values.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{
		Connections: ConnectionStats{
			Current: m.connsCurrent.Load(), Total: m.connsTotal.Load(),
			Rejected:               m.rejectedFull.Load() + m.rejectedAuth.Load() + m.rejectedBad.Load() + m.rejectedPending.Load(),
			RejectedMaxConnections: m.rejectedFull.Load(),
			RejectedPendingAuth:    m.rejectedPending.Load(),
			PendingAuth:            m.pendingAuth.Load(),
			SlowDisconnected:       m.slowConsumers.Load(),
		},
		Messages: MessageStats{
			Published: m.published.Load(), PublishErrors: m.publishErrors.Load(),
			Delivered: m.delivered.Load(), Dropped: m.dropped.Load(),
			Replayed: m.replayed.Load(), Resyncs: m.resyncs.Load(),
		},
		Topics: m.topicCount(),
		Broker: BrokerStats{Errors: m.brokerErrors.Load(), Reconnects: m.reconnects.Load(),
			MalformedEnvelopes: m.malformed.Load()},
	}
	s.Broker.DiskBytes, s.Broker.Fsyncs = m.diskStats()
	s.Presence = PresenceStats{Streams: m.presenceStreams.Load(), Joins: m.presenceJoins.Load(),
		Leaves: m.presenceLeaves.Load(), WebhookFailures: m.presenceWebhookFailures.Load()}
	m.latMu.Lock()
	if m.latCount > 0 {
		s.Latency = LatencyStats{
			PublishAvgMs:    round3(m.latSumMs / float64(m.latCount)),
			PublishRecentMs: round3(m.latAvgMs),
			PublishCount:    m.latCount,
		}
	}
	m.latMu.Unlock()
	return s
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
