package main

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is what one storm measured and what the check found.
type report struct {
	cfg         config
	openTook    time.Duration // opening every stream
	beforeAcked int           // events acknowledged before the restart
	beforeTook  time.Duration // publishing them and every stream receiving them
	exitTook    time.Duration // from the signal until the old hub exited
	downFor     time.Duration // from the signal until the new hub listened
	rssAtListen int64         // the new hub's RSS when it listened
	missedAcked int           // missed events acknowledged
	missedTook  time.Duration // from listening until they were all answered
	allDone     time.Duration // from listening until every stream caught up (or the timeout)
	complete    bool          // every stream caught up within the timeout
	loadBefore  string        // the machine's load average when the hub listened again
	loadAfter   string        // and when the storm ended
	selfCPU     float64       // CPU seconds the load program used during the storm
	kernel      string        // listen-queue counters of the kernel during the storm

	restarted  int                        // streams on the restarted hub
	caughtUp   int                        // of them, caught up
	browserUp  int                        // of them, caught up without a non-200 answer
	catchUp    []time.Duration            // per caught-up stream of the restarted hub, from listening
	attempts   int                        // reconnection attempts
	connErrs   int                        // attempts that got no answer
	statuses   map[int]int                // non-200 answers by status
	samples    map[int]string             // the first non-200 answer's body, by status
	errs       map[string]int             // attempts without an answer, by step and error
	errTook    map[string][]time.Duration // how long each of them took from dialing
	errWrote   map[string][]time.Duration // when their request was written, from connecting
	answers    []time.Duration            // from dialing to the answer's head, reconnections
	retries    []time.Duration            // first reconnection attempts, from listening
	gaveUp     int                        // streams answered non-200 at least once
	early      int                        // streams whose retry timer fired before the gate opened
	resynced   int                        // streams that received a resync
	resyncs    int                        // resync events received
	incomplete []int                      // stream indexes that never caught up (first few)
	check      verdict

	hubs []hubStats
}

// hubStats is one hub's figures during the storm, from listening again
// until every stream caught up.
type hubStats struct {
	name         string
	cpu          float64 // CPU seconds
	rssMax       int64   // the largest RSS sampled
	hwm          int64   // VmHWM, the restarted hub's peak RSS since it started
	polls        int
	healthFailed int
	healthSlow   int
	healthMax    time.Duration
	fdMax        int // the most open files sampled
	fdEnd        int // open files when the storm ended
	acceptErrors int // "http: Accept error" lines in its log (too many open files, ...)
	metrics      hubMetrics
	metricsErr   error
}

// judge fills rep's per-stream figures and the check's verdict.
func (r *run) judge(rep *report, ph *phase, t0 time.Time) {
	rep.statuses, rep.samples, rep.answers = r.statuses, r.samples, r.answers
	rep.errs, rep.errTook, rep.errWrote = r.errs, r.errTook, r.errWrote
	for _, s := range r.streams {
		s.mu.Lock()
		rep.check.add(judge(r.pubs[s.topic], s.got, s.resyncs))
		rep.attempts += s.attempts
		rep.connErrs += s.connErrs
		if s.gaveUp {
			rep.gaveUp++
		}
		if !s.firstRetry.IsZero() {
			rep.retries = append(rep.retries, s.firstRetry.Sub(t0))
		}
		if s.early {
			rep.early++
		}
		if len(s.resyncs) > 0 {
			rep.resynced++
			rep.resyncs += len(s.resyncs)
		}
		done := s.donePhase == ph
		if !done && len(rep.incomplete) < 5 {
			rep.incomplete = append(rep.incomplete, s.idx)
		}
		if s.hub == r.hubs[0] {
			rep.restarted++
			if done {
				rep.caughtUp++
				rep.catchUp = append(rep.catchUp, s.doneAt.Sub(t0))
				if !s.gaveUp {
					rep.browserUp++
				}
			}
		}
		s.mu.Unlock()
	}
}

// ok says whether the storm met the promise: every stream caught up and
// no event was lost, duplicated, reordered or made up.
func (rep report) ok() bool {
	return rep.complete && rep.check.violations() == 0
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// String is the report as the script prints it.
func (rep report) String() string {
	var b strings.Builder
	c := rep.cfg
	mode := "embedded broker, in memory"
	if c.dataDir != "" {
		mode = "embedded broker, SSE_DATA_DIR=" + c.dataDir
	}
	if c.redisURL != "" {
		mode = fmt.Sprintf("two hubs on Redis (%s), hub-a restarted", c.redisURL)
	}
	fmt.Fprintf(&b, "storm: %d streams on %d topics, %s, restart %s, %d events per topic before, %d missed\n",
		c.streams, c.topics, mode, c.restart, c.before, c.missed)
	if len(c.settings) > 0 {
		fmt.Fprintf(&b, "  hub settings: %s\n", strings.Join(c.settings, " "))
	}
	fmt.Fprintf(&b, "opened %d streams in %s; %d events acknowledged and received by every stream in %s\n",
		c.streams, secs(rep.openTook), rep.beforeAcked, secs(rep.beforeTook))
	fmt.Fprintf(&b, "restart: old hub exited %s after the signal; new hub listening %s after it\n",
		secs(rep.exitTook), secs(rep.downFor))
	fmt.Fprintf(&b, "missed: %d of %d events acknowledged %s after listening\n",
		rep.missedAcked, c.missed*c.topics, secs(rep.missedTook))
	state := "every stream caught up"
	if !rep.complete {
		state = fmt.Sprintf("NOT every stream caught up (never: streams %v...)", rep.incomplete)
	}
	fmt.Fprintf(&b, "storm: %s %s after the hub listened again (load average %s, then %s, on %d cores)\n",
		state, secs(rep.allDone), rep.loadBefore, rep.loadAfter, runtime.NumCPU())
	p50, p99, pmax := quantile(rep.catchUp, 0.5), quantile(rep.catchUp, 0.99), quantile(rep.catchUp, 1)
	fmt.Fprintf(&b, "  restarted hub's streams caught up: %d of %d (without a non-200 answer, as an EventSource: %d); per stream p50 %s, p99 %s, max %s\n",
		rep.caughtUp, rep.restarted, rep.browserUp, secs(p50), secs(p99), secs(pmax))
	fmt.Fprintf(&b, "  first reconnections from %s to %s after listening; answer heads p50 %s, p99 %s, max %s after dialing\n",
		secs(quantile(rep.retries, 0)), secs(quantile(rep.retries, 1)),
		secs(quantile(rep.answers, 0.5)), secs(quantile(rep.answers, 0.99)), secs(quantile(rep.answers, 1)))
	fmt.Fprintf(&b, "  reconnect attempts %d (no answer: %d%s); non-200 answers: %s; streams an EventSource would have given up: %d\n",
		rep.attempts, rep.connErrs, errText(rep.errs, rep.errTook, rep.errWrote), statusText(rep.statuses), rep.gaveUp)
	for _, code := range slices.Sorted(maps.Keys(rep.samples)) {
		fmt.Fprintf(&b, "    first %d answer: %s\n", code, rep.samples[code])
	}
	hold := "held until then"
	if c.noHold {
		hold = "not held (-no-hold)"
	}
	fmt.Fprintf(&b, "  resyncs: %d events on %d streams; retry timers that fired before the missed events were published: %d, %s\n",
		rep.resyncs, rep.resynced, rep.early, hold)
	for _, h := range rep.hubs {
		peak := "peak RSS (sampled) " + mb(h.rssMax)
		if h.hwm > 0 {
			peak = fmt.Sprintf("RSS %s when listening, peak %s (VmHWM; sampled %s)", mb(rep.rssAtListen), mb(h.hwm), mb(h.rssMax))
		}
		fmt.Fprintf(&b, "%s: CPU %.2f s, %s; /health/live: %d polls, %d failed, %d over %v, slowest %s\n",
			h.name, h.cpu, peak, h.polls, h.healthFailed, h.healthSlow, healthSlow, h.healthMax.Round(time.Millisecond))
		fmt.Fprintf(&b, "  open files: up to %d (sampled), %d at the end; accept errors logged: %d\n", h.fdMax, h.fdEnd, h.acceptErrors)
		if h.metricsErr != nil {
			fmt.Fprintf(&b, "  metrics: %v\n", h.metricsErr)
			continue
		}
		m := h.metrics
		fmt.Fprintf(&b, "  metrics since start: streams %d (now %d), replayed %d, resyncs %d, dropped %d, slow disconnected %d, rejected %d (max connections %d, pending %d), broker errors %d\n",
			m.Connections.Total, m.Connections.Current, m.Messages.Replayed, m.Messages.Resyncs, m.Messages.Dropped,
			m.Connections.SlowDisconnected, m.Connections.Rejected,
			m.Connections.RejectedMaxConnections, m.Connections.RejectedPendingAuth, m.Broker.Errors)
	}
	fmt.Fprintf(&b, "load program (all streams, publisher, polls): CPU %.2f s during the storm\n", rep.selfCPU)
	fmt.Fprintf(&b, "kernel, whole machine, during the storm: %s\n", rep.kernel)
	v := rep.check
	fmt.Fprintf(&b, "check: %d events received of %d owed; lost %d, duplicates %d, out of order %d, phantom %d; covered by a resync %d\n",
		v.received, v.expected, v.lost, v.duplicates, v.outOfOrder, v.phantom, v.covered)
	result := "ok"
	if !rep.ok() {
		result = "FAILED"
	}
	fmt.Fprintf(&b, "result: %s\n", result)
	return b.String()
}

// statusText lists counts by status, "503: 12, 429: 1", or "none".
func statusText(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d: %d", code, m[code]))
	}
	return strings.Join(parts, ", ")
}

// errText lists attempts without an answer by class, with the median
// and longest time from dialing, and when their request was written:
// ": connect: connection refused 3 (p50 0.01 s, max 0.02 s after
// dialing), answer: EOF 1 (...; request written p50 ..., max ... after
// connecting)", or "".
func errText(m map[string]int, took, wrote map[string][]time.Duration) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w := ""
		if len(wrote[k]) > 0 {
			prompt := 0
			for _, d := range wrote[k] {
				if d < time.Second {
					prompt++
				}
			}
			w = fmt.Sprintf("; request written p50 %s, max %s after connecting, within 1 s for %d", secs(quantile(wrote[k], 0.5)), secs(quantile(wrote[k], 1)), prompt)
		}
		parts = append(parts, fmt.Sprintf("%s %d (p50 %s, max %s after dialing%s)", k, m[k],
			secs(quantile(took[k], 0.5)), secs(quantile(took[k], 1)), w))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}
