package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// result is what a child process reports, as one JSON line.
type result struct {
	Design string `json:"design"`
	Mode   string `json:"mode"`
	Err    string `json:"err,omitempty"`

	// publish
	Acks      int64   `json:"acks,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	PerSecond float64 `json:"per_second,omitempty"`
	P50Ms     float64 `json:"p50_ms,omitempty"`
	P99Ms     float64 `json:"p99_ms,omitempty"`
	CPUUs     float64 `json:"cpu_us,omitempty"` // process CPU time per acknowledged publish

	// recover / fill (memory and resume are measured after either)
	OpenSeconds float64 `json:"open_seconds,omitempty"`
	OpenCPU     float64 `json:"open_cpu,omitempty"` // process CPU seconds of the open
	HeapInuse   uint64  `json:"heap_inuse,omitempty"`
	RSS         uint64  `json:"rss,omitempty"`
	RSSAnon     uint64  `json:"rss_anon,omitempty"`
	RSSFile     uint64  `json:"rss_file,omitempty"`
	ResumeUs    float64 `json:"resume_us,omitempty"`
	ResumeN     int     `json:"resume_n,omitempty"`

	// disk (fill reports it too)
	Bound       int64 `json:"bound,omitempty"`
	Published   int64 `json:"published,omitempty"`
	DiskPeak    int64 `json:"disk_peak,omitempty"`
	DiskEnd     int64 `json:"disk_end,omitempty"`
	DiskSettled int64 `json:"disk_settled,omitempty"`
	DiskClosed  int64 `json:"disk_closed,omitempty"`
	ApparentEnd int64 `json:"apparent_end,omitempty"`
}

// load publishes from cfg.publishers goroutines round-robin over
// cfg.topics topics, each event cfg.size bytes of data, until stop says so.
// It returns the acknowledged publishes and, when lat is set, their
// latencies.
func load(ctx context.Context, s store, publishers, topics, size int, stop func(done int64) bool, lat bool) (int64, []time.Duration, error) {
	var acks atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			var mine []time.Duration
			rng := rand.NewChaCha8([32]byte{byte(p)})
			for i := 0; ; i++ {
				data := payload(rng, size)
				if stop(acks.Load()) || ctx.Err() != nil {
					break
				}
				msg := sse.Message{Topics: []string{fmt.Sprintf("t%d", (p+i)%topics)}, Event: "e", Data: data}
				t0 := time.Now()
				if _, err := s.Publish(ctx, msg); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if lat {
					mine = append(mine, time.Since(t0))
				}
				acks.Add(1)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return acks.Load(), lats, firstErr
}

// payload returns a JSON string of size bytes of random letters: as
// little compressible as a store's compression would find real payloads
// of different events, and different in every event (the same payload in
// every event would let pebble's block compression shrink the history to
// almost nothing).
func payload(rng *rand.ChaCha8, size int) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	data := make([]byte, size)
	rng.Read(data)
	for i := range data {
		data[i] = alphabet[data[i]&63]
	}
	data[0], data[size-1] = '"', '"'
	return data
}

// childPublish measures acknowledged publishes per second with fsync
// always and the default bounds.
func childPublish(d design, dir string, cfg config) result {
	r := result{Design: d.name, Mode: "publish"}
	s, err := d.open(dir, sse.BrokerOptions{}, fsyncAlways)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer s.Close()
	ctx := context.Background()
	warm := time.Now().Add(cfg.dur / 5)
	if _, _, err := load(ctx, s, cfg.publishers, cfg.topics, cfg.size, func(int64) bool { return time.Now().After(warm) }, false); err != nil {
		r.Err = err.Error()
		return r
	}
	t0, cpu0 := time.Now(), cpuTime()
	end := t0.Add(cfg.dur)
	acks, lats, err := load(ctx, s, cfg.publishers, cfg.topics, cfg.size, func(int64) bool { return time.Now().After(end) }, true)
	r.Seconds = time.Since(t0).Seconds()
	if acks > 0 {
		r.CPUUs = (cpuTime() - cpu0).Seconds() * 1e6 / float64(acks)
	}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Acks, r.PerSecond = acks, float64(acks)/r.Seconds
	slices.Sort(lats)
	if len(lats) > 0 {
		r.P50Ms = lats[len(lats)/2].Seconds() * 1000
		r.P99Ms = lats[len(lats)*99/100].Seconds() * 1000
	}
	return r
}

// historyOpts are the bounds under which cfg.history bytes of data are
// all kept: the size, age and byte bounds out of the way.
func historyOpts() sse.BrokerOptions {
	return sse.BrokerOptions{HistorySize: 1 << 20, HistoryAge: 24 * time.Hour, HistoryMaxBytes: 4 << 30}
}

// resumeTopic is the topic whose resume is timed.
const resumeTopic = "t0"

// resumeMissed is how many events a timed resume has missed.
const resumeMissed = 100

// childFill publishes cfg.history bytes of data (fsync off: filling is not
// what is measured), then resumeMissed+1 events to resumeTopic, and writes
// the id before the last resumeMissed to dir+".resume". For the in-memory
// reference, which cannot recover, it measures memory and resume here.
func childFill(d design, dir string, cfg config) result {
	r := result{Design: d.name, Mode: "fill"}
	s, err := d.open(dir, historyOpts(), fsyncOff)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	ctx := context.Background()
	n := cfg.history / int64(cfg.size)
	t0 := time.Now()
	acks, _, err := load(ctx, s, cfg.publishers, cfg.topics, cfg.size, func(done int64) bool { return done >= n }, false)
	r.Seconds, r.Acks = time.Since(t0).Seconds(), acks
	if err != nil {
		r.Err = err.Error()
		return r
	}
	var from string
	for i := range resumeMissed + 1 {
		id, err := s.Publish(ctx, sse.Message{Topics: []string{resumeTopic}, Event: "e", Data: []byte(`"resume"`)})
		if err != nil {
			r.Err = err.Error()
			return r
		}
		if i == 0 {
			from = id
		}
	}
	if !d.durable {
		measureServing(&r, s, from)
		s.Close()
		return r
	}
	if err := s.Close(); err != nil {
		r.Err = err.Error()
		return r
	}
	r.DiskClosed, _ = dirSize(dir)
	if err := os.WriteFile(dir+".resume", []byte(from), 0o600); err != nil {
		r.Err = err.Error()
	}
	return r
}

// childRecover opens the history childFill left (recovery: until ready to
// serve), then measures memory and resume.
func childRecover(d design, dir string, cfg config) result {
	r := result{Design: d.name, Mode: "recover"}
	from, err := os.ReadFile(dir + ".resume")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	t0, cpu0 := time.Now(), cpuTime()
	s, err := d.open(dir, historyOpts(), fsyncAlways)
	r.OpenSeconds, r.OpenCPU = time.Since(t0).Seconds(), (cpuTime() - cpu0).Seconds()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer s.Close()
	measureServing(&r, s, string(from))
	return r
}

// measureServing measures the memory of a store holding its history and
// the time of a resume that has missed resumeMissed events.
func measureServing(r *result, s store, from string) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = ms.HeapInuse
	r.RSS, r.RSSAnon, r.RSSFile = rss()
	ctx := context.Background()
	var times []time.Duration
	for range 200 {
		t0 := time.Now()
		n, err := s.Resume(ctx, resumeTopic, from)
		times = append(times, time.Since(t0))
		if err != nil {
			r.Err = "resume: " + err.Error()
			return
		}
		if n != resumeMissed {
			r.Err = fmt.Sprintf("resume: %d events, want %d", n, resumeMissed)
			return
		}
		r.ResumeN = n
	}
	slices.Sort(times)
	r.ResumeUs = float64(times[len(times)/2].Microseconds())
}
