package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// openConcurrency is how many streams are being opened at once before
// the restart: the storm is the reconnection, not the first connection,
// and the hub's pending-subscribe limit (max(16, connections/10)) must
// not refuse them.
const openConcurrency = 256

// run is one storm: its hubs, streams and published events.
type run struct {
	cfg     config
	gate    *gate
	phase   atomic.Pointer[phase]
	hubs    []*hubProc
	streams []*stream
	pubs    [][]*pub // by topic, in publish order
	wg      sync.WaitGroup

	statusMu sync.Mutex
	statuses map[int]int                // non-200 answers to streams, by status
	samples  map[int]string             // the first answer's body, by status
	errs     map[string]int             // attempts without an answer, by step and error
	errTook  map[string][]time.Duration // how long each of them took from dialing
	errWrote map[string][]time.Duration // when their request was written, from connecting
	answers  []time.Duration            // from dialing to the answer's head, reconnections only
	done     atomic.Bool                // the run is over: errors now are its own doing
}

// phase is one round of publishes: each topic's last acknowledged id,
// and how many streams have not yet received it (or a resync covering it).
type phase struct {
	targets   []streamid.ID
	published time.Time // when the round's last publish was answered
	remaining atomic.Int64
	done      chan struct{} // closed when remaining reaches 0
}

func newRun(cfg config) *run {
	return &run{cfg: cfg, gate: newGate(), hubs: cfg.hubs(), pubs: make([][]*pub, cfg.topics), statuses: map[int]int{}, samples: map[int]string{}, errs: map[string]int{}, errTook: map[string][]time.Duration{}, errWrote: map[string][]time.Duration{}}
}

func (r *run) countStatus(code int, body string) {
	r.statusMu.Lock()
	r.statuses[code]++
	if _, ok := r.samples[code]; !ok {
		r.samples[code] = strings.TrimSpace(body)
	}
	r.statusMu.Unlock()
}

func (r *run) countError(class string, took, wrote time.Duration) {
	r.statusMu.Lock()
	r.errs[class]++
	r.errTook[class] = append(r.errTook[class], took)
	if wrote > 0 {
		r.errWrote[class] = append(r.errWrote[class], wrote)
	}
	r.statusMu.Unlock()
}

func (r *run) countAnswer(d time.Duration) {
	r.statusMu.Lock()
	r.answers = append(r.answers, d)
	r.statusMu.Unlock()
}

func (r *run) ctxDone() bool { return r.done.Load() }

// newPhase starts waiting for every stream to have every event published
// so far.
func (r *run) newPhase() *phase {
	ph := &phase{targets: make([]streamid.ID, r.cfg.topics), published: time.Now(), done: make(chan struct{})}
	for t, ps := range r.pubs {
		for _, p := range ps {
			if p.outcome == acked && ph.targets[t].Less(p.id) {
				ph.targets[t] = p.id
			}
		}
	}
	ph.remaining.Store(int64(len(r.streams)))
	r.phase.Store(ph)
	for _, s := range r.streams {
		s.check()
	}
	return ph
}

// execute runs the storm and judges it.
func (r *run) execute(ctx context.Context) (rep report, err error) {
	rep.cfg = r.cfg
	defer func() {
		for _, h := range r.hubs {
			err = errors.Join(err, h.stop(syscall.SIGTERM, 30*time.Second))
		}
	}()
	for _, h := range r.hubs {
		if err := h.start(); err != nil {
			return rep, err
		}
		if _, err := h.waitListening(ctx, 30*time.Second); err != nil {
			return rep, err
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); r.wg.Wait() }()
	start := time.Now()
	if err := r.open(sctx); err != nil {
		return rep, err
	}
	rep.openTook = time.Since(start)

	// Before the restart: every stream gets every event.
	start = time.Now()
	rep.beforeAcked = newPublisher(runID("a")).round(ctx, r.hubs[0].addr, r.pubs, r.cfg.before)
	if err := r.wait(ctx, r.newPhase(), 60*time.Second); err != nil {
		return rep, fmt.Errorf("before the restart: %w", err)
	}
	rep.beforeTook = time.Since(start)

	// The restart.
	a := r.hubs[0]
	sig := syscall.SIGTERM
	if r.cfg.restart == "kill9" {
		sig = syscall.SIGKILL
	}
	r.gate.shut()
	tSig := time.Now()
	if err := a.stop(sig, 60*time.Second); err != nil {
		return rep, err
	}
	rep.exitTook = time.Since(tSig)
	if err := a.start(); err != nil {
		return rep, err
	}
	t0, err := a.waitListening(ctx, 60*time.Second)
	if err != nil {
		return rep, err
	}
	rep.downFor = t0.Sub(tSig)
	rep.loadBefore = loadAvg()
	selfCPU, _ := cpuSeconds(os.Getpid())
	netBefore := tcpExt()
	mons := make([]*monitor, len(r.hubs))
	for i, h := range r.hubs {
		mons[i] = watch(h)
	}
	rep.rssAtListen, _ = statusKB(a.pid(), "VmRSS")

	// The missed events, through the hub that stayed up if there is one,
	// then the storm.
	pubHub := r.hubs[len(r.hubs)-1]
	rep.missedAcked = newPublisher(runID("b")).round(ctx, pubHub.addr, r.pubs, r.cfg.missed)
	rep.missedTook = time.Since(t0)
	ph := r.newPhase()
	r.gate.open()
	waitErr := r.wait(ctx, ph, r.cfg.timeout)
	rep.allDone = time.Since(t0)
	rep.complete = waitErr == nil
	rep.loadAfter = loadAvg()
	rep.kernel = netDelta(netBefore, tcpExt())
	if c, err := cpuSeconds(os.Getpid()); err == nil {
		rep.selfCPU = c - selfCPU
	}
	for i, m := range mons {
		hs := hubStats{name: r.hubs[i].name, cpu: m.finish(), rssMax: m.rssMax, polls: m.polls,
			healthFailed: m.failed, healthSlow: m.slow, healthMax: m.maxLatency, fdMax: m.fdMax, fdEnd: m.fdEnd,
			acceptErrors: r.hubs[i].logCount("http: Accept error")}
		if i == 0 {
			hs.hwm, _ = statusKB(a.pid(), "VmHWM")
		}
		hs.metrics, hs.metricsErr = r.hubs[i].metrics(ctx)
		rep.hubs = append(rep.hubs, hs)
	}
	r.done.Store(true)
	cancel()
	r.wg.Wait()
	r.judge(&rep, ph, t0)
	return rep, nil
}

// runID makes the Idempotency-Key prefix of one round, unique per run.
func runID(round string) string {
	return "storm-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + round
}

// open starts every stream and waits until each has its first 200
// answer and every hub counts its streams.
func (r *run) open(ctx context.Context) error {
	per := make([]int64, len(r.hubs))
	for i := range r.cfg.streams {
		h := (i / r.cfg.topics) % len(r.hubs)
		per[h]++
		r.streams = append(r.streams, &stream{idx: i, topic: i % r.cfg.topics, hub: r.hubs[h], run: r})
	}
	sem := make(chan struct{}, openConcurrency)
	errs := make(chan error, len(r.streams))
	for _, s := range r.streams {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		opened := make(chan error, 1)
		r.wg.Go(func() { s.loop(ctx, opened) })
		go func() { errs <- <-opened; <-sem }()
	}
	var failed int
	var first error
	for range r.streams {
		if err := <-errs; err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d streams could not open: %w", failed, len(r.streams), first)
	}
	for i, h := range r.hubs {
		end := time.Now().Add(30 * time.Second)
		for {
			m, err := h.metrics(ctx)
			if err == nil && m.Connections.Current == per[i] {
				break
			}
			if time.Now().After(end) {
				return fmt.Errorf("%s counts %d streams, not %d (%v)", h.name, m.Connections.Current, per[i], err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// wait waits until every stream completed ph.
func (r *run) wait(ctx context.Context, ph *phase, timeout time.Duration) error {
	select {
	case <-ph.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("%d of %d streams had not caught up after %v", ph.remaining.Load(), len(r.streams), timeout)
	}
}

// loadAvg is the machine's 1-minute load average, from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
