package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Run performs a benchmark: connect, publish, drain, report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Topics == 0 {
		cfg.Topics = 1
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.URLs = cfg.urls()
	cfg.URL = cfg.URLs[0]
	for _, u := range cfg.URLs {
		if err := CheckLoopback(ctx, u); err != nil {
			return nil, err
		}
	}
	if cfg.PerProcess <= 0 {
		cfg.PerProcess = DefaultPerProcess
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	u, _ := url.Parse(cfg.URL)
	rep := &Report{URL: cfg.URL, Conns: cfg.Conns, Rate: cfg.Rate, Duration: cfg.Duration.String(), Topics: cfg.Topics,
		Publishers: cfg.publishers()}
	if len(cfg.URLs) > 1 {
		rep.URLs = cfg.URLs
	}

	rss := newRSSProbe(cfg.ServerPID, u)
	rep.ServerPID, rep.ServerRSSNote = rss.pid, rss.note
	rep.ServerRSSBeforeBytes = rss.read()

	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	prefix := fmt.Sprintf("bench-%s-", run)
	topics := make([]string, cfg.Topics)
	for i := range topics {
		topics[i] = prefix + strconv.Itoa(i)
	}
	bigTopic := ""
	if cfg.BigTopic > 0 {
		bigTopic = prefix + "big"
	}
	if cfg.Users.Count > 0 && len(cfg.Users.Subscribe) == 0 {
		cfg.Users.Subscribe = []string{prefix + "*"}
	}

	if _, err := caTLS(cfg.CAFile); err != nil {
		return nil, err
	}
	pub := newPublishing(cfg, topics)
	start := pub.seriesStart
	nWorkers := (cfg.Conns + cfg.PerProcess - 1) / cfg.PerProcess
	if cfg.SourceAddrs == nil {
		cfg.SourceAddrs = autoSourceAddrs(cfg.Conns, nWorkers, cfg.URLs)
	}
	rep.SourceAddrs = cfg.SourceAddrs
	workers, err := startWorkers(ctx, cfg, topics, bigTopic, pub.total)
	if err != nil {
		return nil, err
	}
	rep.Workers = len(workers)
	prog := &progressLine{w: cfg.Progress, tty: cfg.ProgressTTY, workers: workers, conns: cfg.Conns}
	defer prog.finish()
	samples := startSampler(start, workers, rss.pid)

	if err := connect(ctx, cfg, workers, prog); err != nil {
		samples.stop()
		_, _ = stopWorkers(workers)
		return nil, err
	}
	rep.ServerRSSConnectedBytes = rss.read()
	samples.sample()
	if cfg.Presence {
		rep.Presence = measurePresence(ctx, cfg, topics, bigTopic, workers)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	publishAll(ctx, pub, prog, tick)
	published := time.Now()
	rep.PublishStartMs, rep.PublishEndMs = pub.start.UnixMilli(), pub.end.UnixMilli()
	samples.sample()
	drain(ctx, cfg, workers, pub, prog, tick)
	elapsed := time.Since(pub.start)
	rep.DrainMs = ms(time.Since(published))
	rep.ServerRSSEndBytes = rss.read()
	series := &Series{Start: start, PublishStartS: pub.start.Sub(start).Seconds(), PublishEndS: pub.end.Sub(start).Seconds(),
		EndS: time.Since(start).Seconds(), Samples: samples.stop(), Publishes: publishSeries(pub)}

	results, stopErr := stopWorkers(workers)
	rep.fill(results, pub, elapsed)
	series.Latency = latencySeries(results, start)
	rep.Series = series
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
			lastErr = strings.TrimPrefix(p.LastError, "ssevents: ") // the message has its prefix
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
// at most PerProcess subscriptions each. Every worker gets every URL and
// source address, and picks them by the run-wide index of a subscription,
// so that each URL and each source address carries its share of the run's
// streams whichever worker holds them.
func startWorkers(ctx context.Context, cfg Config, topics []string, bigTopic string, events int) ([]WorkerHandle, error) {
	n := (cfg.Conns + cfg.PerProcess - 1) / cfg.PerProcess
	base := WorkerConfig{URL: cfg.URL, URLs: cfg.URLs, Token: cfg.Token, CAFile: cfg.CAFile, Topics: topics, Events: events,
		ConnectTimeout: cfg.ConnectTimeout, LocalIPs: cfg.SourceAddrs}
	if bigTopic != "" {
		base.BigTopic, base.BigFrom = bigTopic, cfg.topicConns()
	}
	if cfg.Users.Count > 0 {
		base.Users = &cfg.Users
	}
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
	var workers []WorkerHandle
	for i := range n {
		wc := base
		wc.FirstConn = i * cfg.PerProcess
		wc.Conns = min(cfg.PerProcess, cfg.Conns-wc.FirstConn)
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
