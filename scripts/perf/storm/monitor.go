package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
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
	fdMax      int // the most open files sampled
	fdEnd      int // open files when the storm ended
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
	m.wg.Go(func() { m.sampleFiles(ctx) })
	return m
}

// finish stops the monitor and returns the CPU seconds the process used
// since watch.
func (m *monitor) finish() float64 {
	cpu, _ := cpuSeconds(m.pid)
	m.fdEnd = openFiles(m.pid)
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

// fdEvery is the interval of open-file samples: listing /proc/PID/fd with
// 20,000 entries takes milliseconds.
const fdEvery = 200 * time.Millisecond

func (m *monitor) sampleFiles(ctx context.Context) {
	t := time.NewTicker(fdEvery)
	defer t.Stop()
	for {
		n := openFiles(m.pid)
		m.mu.Lock()
		m.fdMax = max(m.fdMax, n)
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openFiles counts the entries of /proc/PID/fd, or 0.
func openFiles(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	names, _ := f.Readdirnames(-1)
	return len(names)
}
