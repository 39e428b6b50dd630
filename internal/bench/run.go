package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Limits and defaults of Config. The limits keep a run bounded: it always
// ends by itself.
const (
	// DefaultPerProcess is the most subscriptions one process holds: each
	// is an open file, and the hard limit is often 20,000 per process.
	DefaultPerProcess = 15000
	// MaxConns, MaxRate, MaxDuration and MaxTopics bound a run.
	MaxConns    = 1_000_000
	MaxRate     = 100_000
	MaxDuration = 10 * time.Minute
	MaxTopics   = 100_000
	// MaxEvents bounds Rate x Duration: each worker keeps a counter per
	// event (4 bytes) and sends them all in its result.
	MaxEvents = 1_000_000
	// DefaultDrain is how long a run waits at most, after the last
	// publish, for deliveries to arrive (it ends as soon as all have);
	// whatever has not arrived then counts as lost.
	DefaultDrain = 10 * time.Second
	// publishers is how many publish requests may be in flight: enough to
	// publish thousands a second over loopback, few enough to keep events
	// of one topic nearly in publish order.
	publishers = 8
	// publishTimeout bounds one publish request.
	publishTimeout = 10 * time.Second
	// publishGrace is how long publish requests in flight at the end of
	// Duration may take to finish.
	publishGrace = 2 * time.Second
)

// Config describes a run.
type Config struct {
	// URL of the hub (loopback only) and Token for it.
	URL   string
	Token string
	// Conns subscriptions, Rate events a second for Duration, over Topics
	// topics (events and subscriptions round-robin over them; default 1).
	Conns    int
	Rate     int
	Duration time.Duration
	Topics   int
	// PerProcess is the most subscriptions a process holds; more spawn
	// worker processes. Default DefaultPerProcess.
	PerProcess int
	// ServerPID is the hub's process, for its memory; 0 finds it by the
	// URL's port.
	ServerPID int
	// Drain: default DefaultDrain.
	Drain time.Duration
	// ConnectTimeout bounds the connect phase. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Spawn starts worker processes; required when Conns > PerProcess.
	Spawn SpawnFunc
	// Progress receives a live progress line; nil for none. With
	// ProgressTTY the line is redrawn in place.
	Progress    io.Writer
	ProgressTTY bool
}

// Validate checks the bounds of c.
func (c Config) Validate() error {
	switch {
	case c.Conns < 1 || c.Conns > MaxConns:
		return fmt.Errorf("bench: --conns must be 1 to %d", MaxConns)
	case c.Rate < 1 || c.Rate > MaxRate:
		return fmt.Errorf("bench: --rate must be 1 to %d events a second", MaxRate)
	case c.Duration < 100*time.Millisecond || c.Duration > MaxDuration:
		return fmt.Errorf("bench: --duration must be 100ms to %v", MaxDuration)
	case int64(c.Rate)*int64(c.Duration)/int64(time.Second) > MaxEvents:
		return fmt.Errorf("bench: --rate x --duration must be at most %d events", MaxEvents)
	case c.Topics < 0 || c.Topics > MaxTopics || c.Topics > c.Conns:
		return fmt.Errorf("bench: --topics must be 1 to min(--conns, %d)", MaxTopics)
	}
	return nil
}

// CheckLoopback returns an error unless rawURL's host is, or resolves only
// to, loopback addresses: the bench is a load generator, for one's own
// machine only.
func CheckLoopback(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("bench: %q is not a URL", rawURL)
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("bench: resolving %s: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("bench: refusing %s: it resolves to %s, not a loopback address; bench only loads a hub on this machine", host, ip)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("bench: %s resolves to no address", host)
	}
	return nil
}

// Run performs a benchmark: connect, publish, drain, report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Topics == 0 {
		cfg.Topics = 1
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckLoopback(ctx, cfg.URL); err != nil {
		return nil, err
	}
	if cfg.PerProcess <= 0 {
		cfg.PerProcess = DefaultPerProcess
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	u, _ := url.Parse(cfg.URL)
	rep := &Report{URL: cfg.URL, Conns: cfg.Conns, Rate: cfg.Rate, Duration: cfg.Duration.String(), Topics: cfg.Topics}

	rss := newRSSProbe(cfg.ServerPID, u)
	rep.ServerPID, rep.ServerRSSNote = rss.pid, rss.note
	rep.ServerRSSBeforeBytes = rss.read()

	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	topics := make([]string, cfg.Topics)
	for i := range topics {
		topics[i] = fmt.Sprintf("bench-%s-%d", run, i)
	}

	pub := newPublishing(cfg, topics)
	workers, err := startWorkers(ctx, cfg, topics, pub.total, u)
	if err != nil {
		return nil, err
	}
	rep.Workers = len(workers)
	prog := &progressLine{w: cfg.Progress, tty: cfg.ProgressTTY, workers: workers, conns: cfg.Conns}
	defer prog.finish()

	if err := connect(ctx, cfg, workers, prog); err != nil {
		_, _ = stopWorkers(workers)
		return nil, err
	}
	rep.ServerRSSConnectedBytes = rss.read()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	publishAll(ctx, pub, prog, tick)
	published := time.Now()
	drain(ctx, cfg, workers, pub, prog, tick)
	elapsed := time.Since(pub.start)
	rep.DrainMs = ms(time.Since(published))
	rep.ServerRSSEndBytes = rss.read()

	results, stopErr := stopWorkers(workers)
	rep.fill(results, pub, elapsed)
	rep.ServerRSSPerConnBytes = rss.perConn(rep.ServerRSSBeforeBytes, rep.ServerRSSConnectedBytes, rep.Connected)
	if stopErr != nil {
		rep.Errors = append(rep.Errors, stopErr.Error())
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// stopWorkers stops workers and returns their results.
func stopWorkers(workers []WorkerHandle) ([]WorkerResult, error) {
	var errs []error
	res := make([]WorkerResult, 0, len(workers))
	for _, w := range workers {
		r, err := w.Stop()
		errs = append(errs, err)
		res = append(res, r)
	}
	return res, errors.Join(errs...)
}

// connect is the connect phase: it waits until every worker has tried to
// open its subscriptions, and fails if none could connect.
func connect(ctx context.Context, cfg Config, workers []WorkerHandle, prog *progressLine) error {
	for _, w := range workers {
		for waiting := true; waiting; {
			select {
			case <-w.Ready():
				waiting = false
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
				prog.print("connect", nil)
			}
		}
	}
	open, lastErr := 0, ""
	for _, w := range workers {
		p := w.Progress()
		open += p.Connected
		if p.LastError != "" {
			lastErr = p.LastError
		}
	}
	if open == 0 {
		return fmt.Errorf("bench: no subscription could connect to %s: %s", cfg.URL, lastErr)
	}
	return nil
}

// publishAll is the publish phase: it publishes at the configured rate
// until the run's duration has passed, printing progress at each tick.
func publishAll(ctx context.Context, pub *publishing, prog *progressLine, tick *time.Ticker) {
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pub.run(ctx)
	}()
	for {
		select {
		case <-pubDone:
			return
		case <-tick.C:
			prog.print("publish", pub)
		}
	}
}

// drain is the drain phase: it waits until every expected delivery
// arrived, cfg.Drain passed or ctx ended.
func drain(ctx context.Context, cfg Config, workers []WorkerHandle, pub *publishing, prog *progressLine, tick *time.Ticker) {
	deadline := time.After(cfg.Drain)
	for {
		var got uint64
		for _, w := range workers {
			got += w.Progress().Received
		}
		if got >= pub.expectedSoFar(workers) || ctx.Err() != nil {
			return
		}
		select {
		case <-deadline:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			prog.print("drain", pub)
		}
	}
}

// startWorkers starts one worker in this process, or several processes of
// at most PerProcess subscriptions each.
func startWorkers(ctx context.Context, cfg Config, topics []string, events int, u *url.URL) ([]WorkerHandle, error) {
	n := (cfg.Conns + cfg.PerProcess - 1) / cfg.PerProcess
	base := WorkerConfig{URL: cfg.URL, Token: cfg.Token, Topics: topics, Events: events, ConnectTimeout: cfg.ConnectTimeout}
	if n == 1 {
		base.Conns = cfg.Conns
		w, err := StartWorker(ctx, base)
		if err != nil {
			return nil, err
		}
		return []WorkerHandle{w}, nil
	}
	if cfg.Spawn == nil {
		return nil, fmt.Errorf("bench: %d connections need %d worker processes, and no way to start them", cfg.Conns, n)
	}
	// Each worker dials from its own loopback address (127.0.0.2, .3, ...)
	// when the hub is on IPv4 loopback, so that no source runs out of its
	// ~28,000 ephemeral ports.
	ip := net.ParseIP(u.Hostname())
	v4 := ip != nil && ip.To4() != nil && ip.IsLoopback()
	var workers []WorkerHandle
	for i := range n {
		wc := base
		wc.FirstConn = i * cfg.PerProcess
		wc.Conns = min(cfg.PerProcess, cfg.Conns-wc.FirstConn)
		if v4 {
			wc.LocalIP = fmt.Sprintf("127.0.0.%d", 2+i%250)
		}
		w, err := startRemote(ctx, cfg.Spawn, i, wc)
		if err != nil {
			for _, w := range workers {
				_, _ = w.Stop()
			}
			return nil, err
		}
		workers = append(workers, w)
	}
	return workers, nil
}
