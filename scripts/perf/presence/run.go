package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// run is one load of one target.
type run struct {
	cfg     config
	env     *streamEnv
	streams []*stream
	live    []atomic.Bool // streams that are open, or meant to be
	rep     *report
}

// pollEvery is the pause between two rounds of counts of every topic
// while presload waits for them to be exact.
const pollEvery = 20 * time.Millisecond

// openAll opens ss, watchers first one by one (so that they see the
// others join), then the rest cfg.concurrency at a time, and returns when
// the last answered.
func (r *run) openAll(ctx context.Context, ss []*stream) (opened, failed int, errs map[string]int) {
	errs = map[string]int{}
	var mu sync.Mutex
	one := func(s *stream) {
		r.live[s.idx].Store(true)
		if !s.watch {
			r.env.log.expect(s.topic, "join", s.user)
		}
		err := r.env.open(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			r.live[s.idx].Store(false)
			failed++
			if len(errs) < 20 || errs[err.Error()] > 0 {
				errs[err.Error()]++
			}
			return
		}
		opened++
	}
	var rest []*stream
	for _, s := range ss {
		if s.watch {
			one(s)
		} else {
			rest = append(rest, s)
		}
	}
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	for _, s := range rest {
		sem <- struct{}{}
		wg.Go(func() { one(s); <-sem })
	}
	wg.Wait()
	return opened, failed, errs
}

// want returns each topic's counts with the live streams open.
func (r *run) want() []counts {
	return expected(r.streams, len(r.env.topics), func(i int) bool { return r.live[i].Load() })
}

// converge polls every topic's counts until they are want, and returns
// how long that took from since.
func (r *run) converge(ctx context.Context, since time.Time, want []counts) convergence {
	var c convergence
	end := time.Now().Add(r.cfg.timeout)
	for {
		c.Polls++
		got := make([]counts, len(want))
		var err error
		for t, topic := range r.env.topics {
			if got[t].Users, got[t].Conns, err = r.env.tgt.counts(ctx, topic); err != nil {
				break
			}
		}
		if err == nil && slices.Equal(got, want) {
			c.Exact, c.MS = true, ms(time.Since(since))
			return c
		}
		// A 404 is an API (or a tracked topic) that is not there: it
		// will not appear by waiting.
		var se *statusError
		if time.Now().After(end) || ctx.Err() != nil || (errors.As(err, &se) && se.code == http.StatusNotFound) {
			c.MS = ms(time.Since(since))
			c.Want, c.Got = want, got
			if err != nil {
				c.Error = err.Error()
			}
			return c
		}
		time.Sleep(pollEvery)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timeCalls calls f n times in a row and summarizes how long each took.
func timeCalls(n int, f func() error) (latency, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := f(); err != nil {
			return summarize(ds), err
		}
		ds = append(ds, time.Since(t))
	}
	return summarize(ds), nil
}

// churn closes cfg.churn streams of the big topic at cfg.churnRate a
// second, waits until the counts are exact and their leaves reached the
// watcher, then opens them again the same way.
func (r *run) churn(ctx context.Context) churnReport {
	var out churnReport
	var ss []*stream
	for i := r.cfg.big - 1; i >= 0 && len(ss) < r.cfg.churn; i-- {
		if s := r.streams[i]; !s.watch && r.live[i].Load() {
			ss = append(ss, s)
		}
	}
	out.Streams, out.Rate = len(ss), r.cfg.churnRate
	every := time.Duration(float64(time.Second) / r.cfg.churnRate)
	left := func(s *stream) bool { // its user has no other live stream on its topic
		for i, o := range r.streams {
			if o != s && o.topic == s.topic && o.user == s.user && r.live[i].Load() {
				return false
			}
		}
		return true
	}
	meter := newCPUMeter(r.cfg.pids())
	tick := time.NewTicker(every)
	for _, s := range ss {
		<-tick.C
		r.live[s.idx].Store(false)
		if left(s) {
			r.env.log.expect(s.topic, "leave", s.user)
		}
		s.close()
	}
	tick.Stop()
	out.Leave = r.converge(ctx, time.Now(), r.want())
	out.Leave.Events = r.waitEvents("leave")
	tick = time.NewTicker(every)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, s := range ss {
		<-tick.C
		r.live[s.idx].Store(true)
		if left(s) {
			r.env.log.expect(s.topic, "join", s.user)
		}
		wg.Go(func() {
			if err := r.env.open(ctx, s); err != nil {
				r.live[s.idx].Store(false)
				failed.Add(1)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	out.JoinFailed = int(failed.Load())
	out.Join = r.converge(ctx, time.Now(), r.want())
	out.Join.Events = r.waitEvents("join")
	out.CPU = meter.stop()
	return out
}

// waitEvents waits up to cfg.timeout until every expected event of kind
// reached its watcher, and summarizes their latencies.
func (r *run) waitEvents(kind string) eventStats {
	end := time.Now().Add(r.cfg.timeout)
	for r.env.log.pending(kind) > 0 && time.Now().Before(end) {
		time.Sleep(pollEvery)
	}
	_, took, missed := r.env.log.take(kind)
	return eventStats{Latency: summarize(took), Missed: missed}
}

// execute runs every phase and fills r.rep.
func (r *run) execute(ctx context.Context) error {
	rep, cfg := r.rep, r.cfg
	if cfg.redis != "" {
		if m, err := redisMemory(cfg.redis); err == nil {
			rep.Redis.UsedBefore = m
		} else {
			rep.Errors = append(rep.Errors, "redis before: "+err.Error())
		}
	}
	if cfg.serverPID > 0 {
		rep.Server.RSSBeforeMB = round2(rssMB(cfg.serverPID))
	}

	// 1. Open every stream, then wait for exact counts.
	meter := newCPUMeter(cfg.pids())
	start := time.Now()
	opened, failed, errs := r.openAll(ctx, r.streams)
	last := time.Now()
	rep.Open = openReport{Opened: opened, Failed: failed, Errors: errs, WallMS: ms(last.Sub(start))}
	rep.Converge = r.converge(ctx, last, r.want())
	rep.Open.CPU = meter.stop()
	rep.Converge.Events = r.waitEvents("join")
	rep.Watchers.JoinsDuringOpen = r.env.log.total("join")

	// 2. Steady state: every stream open, nothing else asked.
	meter = newCPUMeter(cfg.pids())
	time.Sleep(cfg.steady)
	rep.Steady = steadyReport{Seconds: cfg.steady.Seconds(), CPU: meter.stop()}
	if cfg.serverPID > 0 {
		rep.Server.RSSOpenMB = round2(rssMB(cfg.serverPID))
	}
	if cfg.redis != "" {
		if m, err := redisMemory(cfg.redis); err == nil {
			rep.Redis.UsedOpen = m
			if live := int64(rep.Open.Opened); live > 0 {
				rep.Redis.BytesPerStream = (m - rep.Redis.UsedBefore) / live
			}
		} else {
			rep.Errors = append(rep.Errors, "redis after: "+err.Error())
		}
	}

	// 3. Snapshot latencies on the big topic.
	big := r.env.topics[0]
	rep.Members = membersReport{Topic: big, Limit: cfg.limit, Note: r.membersNote()}
	meter = newCPUMeter(cfg.pids())
	var err error
	rep.Members.Latency, err = timeCalls(cfg.calls, func() error {
		listed, size, err := r.env.tgt.members(ctx, big, cfg.limit)
		rep.Members.Listed, rep.Members.Bytes = listed, size
		return err
	})
	rep.Members.CPU = meter.stop()
	if err != nil {
		rep.Errors = append(rep.Errors, "members: "+err.Error())
	}
	meter = newCPUMeter(cfg.pids())
	rep.Counts.Topic = big
	rep.Counts.Latency, err = timeCalls(cfg.calls, func() error {
		_, _, err := r.env.tgt.counts(ctx, big)
		return err
	})
	rep.Counts.CPU = meter.stop()
	if err != nil {
		rep.Errors = append(rep.Errors, "counts: "+err.Error())
	}

	// 4. Join and leave load.
	if cfg.churn > 0 {
		c := r.churn(ctx)
		rep.Churn = &c
	}
	rep.Watchers.Joins, rep.Watchers.Leaves = r.env.log.total("join"), r.env.log.total("leave")
	rep.Dropped = r.env.dropped.Load()
	rep.PlainStreamBytes = r.env.bytes.Load()
	for _, s := range r.streams {
		s.close()
	}
	if !rep.Converge.Exact {
		return fmt.Errorf("the counts were not exact within %v", cfg.timeout)
	}
	return nil
}

// membersNote says what the members snapshot of the target lists.
func (r *run) membersNote() string {
	if r.cfg.target == "centrifugo" {
		return "Centrifugo's presence has no limit: it returns every client (connection) of the channel"
	}
	return fmt.Sprintf("GET /presence?topic=T&limit=%d: the counts and up to %d members", r.cfg.limit, r.cfg.limit)
}
