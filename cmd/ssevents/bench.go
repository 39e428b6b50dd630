package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ssevents/ssevents/internal/bench"
)

const benchUsage = "bench --conns N --rate R --duration D [--topics K] [--json] [--url URL] [--token T]\n       ssevents bench --check --url URL [--url URL2 ...] [--conns N] [--topics K] [--rate R] [--duration D] [--drain D] [--history-size H] [--publishers P] [--json]"

// runBench load-tests a hub on this machine: --conns subscriptions (over
// several worker processes past --per-process), --rate events a second
// for --duration, then a report on stdout (one JSON object with --json) and
// a live progress line on stderr.
//
// With --check it checks the delivery promise instead (runBenchCheck), on
// any hub, several --url allowed.
//
// With the hidden --worker flag it is a worker process instead, holding
// subscriptions for a parent bench and speaking bench's protocol on stdin
// and stdout.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchUsage, stderr)
	var urls urlList
	fs.Var(&urls, "url", "URL of the hub (default "+defaultHubURL+"); with --check, repeat it to spread streams and publishes over several instances")
	token := fs.String("token", "", "bearer token (default $SSE_TOKEN)")
	conns := fs.Int("conns", 100, "subscriptions to open (--check: reconnecting streams, default 10)")
	rate := fs.Int("rate", 10, "events to publish a second (--check: default 50)")
	duration := fs.Duration("duration", 10*time.Second, "how long to publish")
	topics := fs.Int("topics", 1, "topics to spread events and subscriptions over (--check: default 4, two per stream)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	serverPID := fs.Int("server-pid", 0, "the hub's process id, for its memory (default: found by the URL's port)")
	perProcess := fs.Int("per-process", bench.DefaultPerProcess, "most subscriptions per process; more start worker processes")
	drain := fs.Duration("drain", bench.DefaultDrain, "how long to wait for deliveries after the last publish")
	connectTimeout := fs.Duration("connect-timeout", bench.DefaultConnectTimeout, "how long opening the subscriptions may take")
	checkMode := fs.Bool("check", false, "check the delivery promise (lost, phantom, duplicate, reordered events) instead of measuring; any hub, not only loopback")
	historySize := fs.Int("history-size", 0, "with --check: the hub's per-topic history size, to judge resyncs (default 100)")
	pubs := fs.Int("publishers", 0, "with --check: publishes in flight (default 4)")
	worker := fs.Bool("worker", false, "run as a worker process of another bench (internal)")
	fs.Usage = func() {
		// --worker is internal: list every flag but it.
		shown := flag.NewFlagSet("bench", flag.ContinueOnError)
		shown.SetOutput(stderr)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name != "worker" {
				shown.Var(f.Value, f.Name, f.Usage)
			}
		})
		fmt.Fprintf(stderr, "usage: ssevents %s\n\nflags:\n", benchUsage)
		shown.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *worker {
		return bench.ServeWorker(ctx, os.Stdin, stdout)
	}
	if len(urls) == 0 {
		urls = urlList{defaultHubURL}
	}
	cf := clientFlags{url: urls[0], token: *token}
	if *checkMode {
		return runBenchCheck(ctx, benchCheckFlags{urls: urls, token: cf.config().Token,
			conns: conns, topics: topics, rate: rate, historySize: historySize, publishers: pubs,
			duration: duration, drain: drain, connectTimeout: connectTimeout, set: setFlags(fs), asJSON: *asJSON}, stdout, stderr)
	}
	if len(urls) > 1 {
		return errors.New("bench: --url may be repeated only with --check")
	}
	cfg := bench.Config{
		URL: cf.url, Token: cf.config().Token,
		Conns: *conns, Rate: *rate, Duration: *duration, Topics: *topics,
		PerProcess: *perProcess, ServerPID: *serverPID, Drain: *drain, ConnectTimeout: *connectTimeout,
		Progress: stderr, ProgressTTY: isTerminal(stderr),
	}
	if exe, err := os.Executable(); err == nil {
		cfg.Spawn = bench.ExecSpawn([]string{exe, "bench", "--worker"}, stderr)
	}
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	if *asJSON {
		b, jerr := json.Marshal(rep)
		if jerr != nil {
			return errors.Join(err, jerr)
		}
		_, werr := fmt.Fprintf(stdout, "%s\n", b)
		return errors.Join(err, werr)
	}
	return errors.Join(err, rep.WriteText(stdout))
}

// isTerminal reports whether w is a terminal, to redraw the progress line
// in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
