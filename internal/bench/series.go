package bench

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxSeriesSeconds bounds the per-second histograms a worker keeps: a run
// lasts at most MaxDuration plus its connect phase and drain; seconds past
// the bound are left out of the series (not of the run's totals). Each
// second holds a Histogram of about 18 KB.
const maxSeriesSeconds = int(MaxDuration/time.Second) + 600

// sampleEvery is how often the parent samples open connections, publishes
// and the server's memory for the series.
const sampleEvery = time.Second

// Series are a run's time series, drawn by Report.WriteHTML. Times are in
// seconds from Start; second i of Latency covers [Start+i, Start+i+1).
type Series struct {
	// Start is the second of the wall clock in which the run began
	// connecting its subscriptions (whole, so that the series' seconds
	// are the clock's).
	Start time.Time `json:"start"`
	// PublishStartS and PublishEndS bracket the publish phase; EndS is
	// the end of the drain.
	PublishStartS float64 `json:"publish_start_s"`
	PublishEndS   float64 `json:"publish_end_s"`
	EndS          float64 `json:"end_s"`
	// Latency has one point per second, from the first second with a
	// delivery to the last (0 deliveries in a second of silence).
	Latency []LatencyPoint `json:"latency"`
	// Publishes has one point per second of the publish phase.
	Publishes []PublishPoint `json:"publishes"`
	// Samples are taken every second from the start of the run to its
	// end, and at the end of each phase.
	Samples []Sample `json:"samples"`
}

// PublishPoint is the publishes the hub accepted in one second of a run.
type PublishPoint struct {
	// T is the second, from the run's start.
	T int `json:"t"`
	// Accepted publishes in that second.
	Accepted int64 `json:"accepted"`
}

// publishSeries returns the accepted publishes of each second of the
// publish phase.
func publishSeries(p *publishing) []PublishPoint {
	first := int(p.start.Sub(p.seriesStart) / time.Second)
	last := min(int(p.end.Sub(p.seriesStart)/time.Second), len(p.perSecond)-1)
	var out []PublishPoint
	for t := max(first, 0); t <= last; t++ {
		out = append(out, PublishPoint{T: t, Accepted: p.perSecond[t].Load()})
	}
	return out
}

// LatencyPoint is the deliveries received in one second of a run.
type LatencyPoint struct {
	// T is the second, from the run's start.
	T int `json:"t"`
	// Deliveries received in that second, and the p50 and p99 of their
	// delivery latency.
	Deliveries uint64  `json:"deliveries"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
}

// Sample is the state of a run at one moment.
type Sample struct {
	// T is the time of the sample, in seconds from the run's start.
	T float64 `json:"t"`
	// Open is the number of subscriptions connected at that moment.
	Open int `json:"open"`
	// ServerRSSBytes is the hub's memory, 0 when unknown.
	ServerRSSBytes int64 `json:"server_rss_bytes,omitempty"`
}

// SecondHistogram is the latency histogram of one second of the wall
// clock, in the form workers send it.
type SecondHistogram struct {
	// Unix is the second, in seconds since the Unix epoch.
	Unix int64 `json:"unix"`
	// Counts is the Histogram in its Sparse form.
	Counts [][2]uint64 `json:"counts"`
}

// perSecond counts durations in one Histogram per second of the wall
// clock. Record is safe for concurrent use; its usual path (the current
// second) takes no lock.
type perSecond struct {
	cur atomic.Pointer[secondHist]
	mu  sync.Mutex
	m   map[int64]*Histogram
}

// secondHist is the Histogram of one second.
type secondHist struct {
	sec int64
	h   *Histogram
}

// Record adds d, observed at now.
func (p *perSecond) Record(now time.Time, d time.Duration) {
	sec := now.Unix()
	if c := p.cur.Load(); c != nil && c.sec == sec {
		c.h.Record(d)
		return
	}
	p.mu.Lock()
	h := p.m[sec]
	if h == nil {
		if len(p.m) >= maxSeriesSeconds {
			p.mu.Unlock()
			return
		}
		if p.m == nil {
			p.m = map[int64]*Histogram{}
		}
		h = new(Histogram)
		p.m[sec] = h
	}
	if c := p.cur.Load(); c == nil || c.sec < sec {
		p.cur.Store(&secondHist{sec, h})
	}
	p.mu.Unlock()
	h.Record(d)
}

// Sparse returns the histograms, in order of time.
func (p *perSecond) Sparse() []SecondHistogram {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]SecondHistogram, 0, len(p.m))
	for sec, h := range p.m {
		out = append(out, SecondHistogram{Unix: sec, Counts: h.Sparse()})
	}
	slices.SortFunc(out, func(a, b SecondHistogram) int { return cmp.Compare(a.Unix, b.Unix) })
	return out
}

// latencySeries merges the workers' per-second histograms into one point
// per second, numbered from start (a whole second of the wall clock, so
// that the run's seconds are the wall clock's).
func latencySeries(results []WorkerResult, start time.Time) []LatencyPoint {
	merged := map[int]*Histogram{}
	for _, res := range results {
		for _, s := range res.LatencyBySecond {
			t := max(int(s.Unix-start.Unix()), 0)
			h := merged[t]
			if h == nil {
				h = new(Histogram)
				merged[t] = h
			}
			h.AddSparse(s.Counts)
		}
	}
	secs := make([]int, 0, len(merged))
	for t := range merged {
		secs = append(secs, t)
	}
	slices.Sort(secs)
	var out []LatencyPoint
	for _, t := range secs {
		for len(out) > 0 && out[len(out)-1].T < t-1 {
			out = append(out, LatencyPoint{T: out[len(out)-1].T + 1}) // a second of silence
		}
		h := merged[t]
		out = append(out, LatencyPoint{T: t, Deliveries: h.Count(), P50Ms: ms(h.Quantile(0.5)), P99Ms: ms(h.Quantile(0.99))})
	}
	return out
}

// sampler takes a Sample every sampleEvery until stopped.
type sampler struct {
	start   time.Time
	workers []WorkerHandle
	pid     int // the hub's process, 0 when unknown

	mu      sync.Mutex
	samples []Sample

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startSampler samples now and then every sampleEvery, until stop.
func startSampler(start time.Time, workers []WorkerHandle, pid int) *sampler {
	s := &sampler{start: start, workers: workers, pid: pid}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// sample records the run's state now.
func (s *sampler) sample() {
	now := time.Now()
	open := 0
	for _, w := range s.workers {
		open += w.Progress().Open
	}
	var rss int64
	if s.pid > 0 {
		rss, _ = RSS(s.pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, Sample{T: now.Sub(s.start).Seconds(), Open: open, ServerRSSBytes: rss})
}

// stop takes a last sample, ends the sampling and returns the samples.
func (s *sampler) stop() []Sample {
	s.cancel()
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Samples taken at the same moment by the ticker and at a phase's end
	// may have been appended out of order.
	slices.SortFunc(s.samples, func(a, b Sample) int { return cmp.Compare(a.T, b.T) })
	return s.samples
}
