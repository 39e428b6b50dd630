package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// healthSlow is the /health/live answer time the report flags.
const healthSlow = time.Second

// pollEvery is the interval of /health/live polls and RSS samples.
const pollEvery = 50 * time.Millisecond

// monitor watches one hub during the storm from outside: /health/live
// polled every 50 ms on a connection of its own, and the process's RSS
// sampled as often.
type monitor struct {
	hub *hubProc
	pid int

	wg   sync.WaitGroup
	stop context.CancelFunc

	mu         sync.Mutex
	polls      int
	failed     int           // errors and non-200 answers
	slow       int           // answers that took longer than healthSlow
	maxLatency time.Duration // the slowest answer or failure
	rssMax     int64
	cpuStart   float64
}

// watch starts monitoring h's current process.
func watch(h *hubProc) *monitor {
	m := &monitor{hub: h, pid: h.pid()}
	m.cpuStart, _ = cpuSeconds(m.pid)
	m.rssMax, _ = statusKB(m.pid, "VmRSS")
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.wg.Go(func() { m.pollHealth(ctx) })
	m.wg.Go(func() { m.sampleRSS(ctx) })
	return m
}

// finish stops the monitor and returns the CPU seconds the process used
// since watch.
func (m *monitor) finish() float64 {
	cpu, _ := cpuSeconds(m.pid)
	m.stop()
	m.wg.Wait()
	return cpu - m.cpuStart
}

func (m *monitor) pollHealth(ctx context.Context) {
	// One connection of its own, kept alive between polls, as a load
	// balancer's health check does; the storm cannot take it.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.hub.addr+"/health/live", nil)
		resp, err := c.Do(req)
		if ctx.Err() != nil {
			return
		}
		took := time.Since(start)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_ = resp.Body.Close()
		}
		m.mu.Lock()
		m.polls++
		if !ok {
			m.failed++
		}
		if took > healthSlow {
			m.slow++
		}
		m.maxLatency = max(m.maxLatency, took)
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *monitor) sampleRSS(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		if rss, err := statusKB(m.pid, "VmRSS"); err == nil {
			m.mu.Lock()
			m.rssMax = max(m.rssMax, rss)
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
