package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/bench"
)

const benchUsage = "bench --conns N --rate R --duration D [--topics K] [--publishers P] [--max-events E] [--source-addrs N|IP,IP...] [--users N [--user-secret S] [--big-topic N] [--presence]] [--json] [--html FILE] [--url URL [--url URL2 ...]] [--token T] [--cacert FILE]\n       ssevents bench --check --url URL [--url URL2 ...] [--conns N] [--topics K] [--rate R] [--duration D] [--drain D] [--history-size H] [--history-age A] [--publishers P] [--json] [--token T] [--cacert FILE]"

// runBench load-tests a hub on this machine: --conns subscriptions (over
// several worker processes past --per-process, from several loopback
// source addresses with --source-addrs or past 25,000), --rate events a
// second (0: as fast as --publishers can) for --duration, round-robin over
// every --url, then a report on stdout (one JSON object with --json) and a
// live progress line on stderr. With --users each stream authenticates as
// one of N users (its own token, sub user-<i mod N>), and --presence
// measures the hubs' presence of them before publishing.
//
// With --check it checks the delivery promise instead (runBenchCheck), on
// any hub.
//
// With the hidden --worker flag it is a worker process instead, holding
// subscriptions for a parent bench and speaking bench's protocol on stdin
// and stdout.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchUsage, stderr)
	var urls urlList
	fs.Var(&urls, "url", "URL of the hub (default "+defaultHubURL+"); repeat it to spread streams and publishes round-robin over several instances")
	var cf clientFlags
	cf.registerAuth(fs)
	conns := fs.Int("conns", 100, "subscriptions to open (--check: reconnecting streams, default 10)")
	rate := fs.Int("rate", 10, "events to publish a second; 0: as fast as the publishers can, until --duration or --max-events (--check: default 50)")
	duration := durationFlag(fs, "duration", 10*time.Second, "how long to publish")
	topics := fs.Int("topics", 1, "topics to spread events and subscriptions over (--check: default 4, two per stream)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	htmlFile := fs.String("html", "", "also write the report as a self-contained HTML page with charts over time (latency p50/p99, deliveries, publishes, connections, server memory) to this `file`")
	serverPID := fs.Int("server-pid", 0, "the hub's process id, for its memory (default: found by the URL's port)")
	perProcess := fs.Int("per-process", bench.DefaultPerProcess, "most subscriptions per process; more start worker processes")
	drain := durationFlag(fs, "drain", bench.DefaultDrain, "how long to wait for deliveries after the last publish")
	connectTimeout := durationFlag(fs, "connect-timeout", bench.DefaultConnectTimeout, "how long opening the subscriptions may take")
	checkMode := fs.Bool("check", false, "check the delivery promise (lost, phantom, duplicate, reordered events) instead of measuring; any hub, not only loopback")
	historySize := fs.Int("history-size", 0, "with --check: the hub's per-topic history size, to judge resyncs (default 100)")
	historyAge := durationFlag(fs, "history-age", 0, "with --check: how long the hub keeps events for resume, to judge resyncs (default 5m)")
	pubs := fs.Int("publishers", 0, "publish requests in flight (default 8; --check: default 4)")
	maxEvents := fs.Int("max-events", bench.MaxEvents, "with --rate 0: stop publishing after this many events")
	var sources sourceAddrs
	fs.Var(&sources, "source-addrs", "loopback addresses to dial streams from, round-robin: a count N (127.0.0.2 ...) or a comma-separated list (default: automatic past 25,000 streams or one worker)")
	users := fs.Int("users", 0, "distinct users: stream i authenticates with a token of its own whose sub is user-<i mod N>, minted with --user-secret (default: every stream uses --token)")
	userSecret := fs.String("user-secret", "", "with --users: the hub's HS256 secret to mint the users' tokens (default $SSE_JWT_SECRET)")
	bigTopic := fs.Int("big-topic", 0, "the last N of --conns streams follow one more topic, which gets no events (with --users: a topic of up to N members)")
	presence := fs.Bool("presence", false, "with --users: after connecting, measure how long until every topic's GET /presence is exact, then time --presence-calls GET /presence?limit=100 on the big topic (topic 0 without one); the hubs must track the topics (SSE_PRESENCE)")
	presenceCalls := fs.Int("presence-calls", bench.DefaultPresenceCalls, "with --presence: how many GET /presence to time")
	presenceTimeout := durationFlag(fs, "presence-timeout", bench.DefaultPresenceTimeout, "with --presence: how long to wait for exact counts")
	worker := fs.Bool("worker", false, "run as a worker process of another bench (internal)")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "usage: ssevents %s\n\nflags:\n", benchUsage)
		printFlags(stderr, fs, map[string]bool{"worker": true}) // --worker is internal
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
	cf.url = urls[0]
	if *checkMode {
		if *htmlFile != "" {
			return asUsage(errors.New("bench: --html draws a load run's report; --check has none"))
		}
		return runBenchCheck(ctx, benchCheckFlags{urls: urls, token: cf.bearer(), caFile: cf.caPath(),
			conns: conns, topics: topics, rate: rate, historySize: historySize, publishers: pubs,
			duration: duration, drain: drain, historyAge: historyAge, connectTimeout: connectTimeout, set: setFlags(fs), asJSON: *asJSON}, stdout, stderr)
	}
	cfg := bench.Config{
		URL: cf.url, URLs: urls, Token: cf.bearer(), CAFile: cf.caPath(), Publishers: *pubs, MaxEvents: *maxEvents,
		SourceAddrs: sources.addrs, Conns: *conns, Rate: *rate, Duration: *duration, Topics: *topics,
		PerProcess: *perProcess, ServerPID: *serverPID, Drain: *drain, ConnectTimeout: *connectTimeout,
		Progress: stderr, ProgressTTY: isTerminal(stderr),
		BigTopic: *bigTopic, Presence: *presence, PresenceCalls: *presenceCalls, PresenceTimeout: *presenceTimeout,
	}
	cfg.Users.Count = *users
	if *users != 0 {
		cfg.Users.Secret = *userSecret
		if cfg.Users.Secret == "" {
			cfg.Users.Secret = os.Getenv("SSE_JWT_SECRET")
		}
		cfg.Users.Issuer, cfg.Users.Audience = os.Getenv("SSE_JWT_ISSUER"), os.Getenv("SSE_JWT_AUDIENCE")
	}
	if err := cfg.Validate(); err != nil {
		return asUsage(err)
	}
	if exe, err := os.Executable(); err == nil {
		cfg.Spawn = bench.ExecSpawn([]string{exe, "bench", "--worker"}, stderr)
	}
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	if *htmlFile != "" {
		if herr := writeHTMLReport(*htmlFile, rep); herr != nil {
			err = errors.Join(err, herr)
		} else {
			_, _ = fmt.Fprintf(stderr, "bench: report page written to %s\n", *htmlFile)
		}
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

// writeHTMLReport writes rep's HTML page to the file name.
func writeHTMLReport(name string, rep *bench.Report) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("bench: --html: %w", err)
	}
	if err := rep.WriteHTML(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("bench: --html: writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: --html: %w", err)
	}
	return nil
}

// sourceAddrs is the --source-addrs flag: a count or a list of addresses.
type sourceAddrs struct{ addrs []string }

func (s *sourceAddrs) String() string { return strings.Join(s.addrs, ",") }

func (s *sourceAddrs) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > bench.MaxSourceAddrs {
			return fmt.Errorf("a count of 1 to %d, or a list of addresses", bench.MaxSourceAddrs)
		}
		s.addrs = bench.SourceAddrs(n)
		return nil
	}
	s.addrs = nil
	for a := range strings.SplitSeq(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.addrs = append(s.addrs, a)
		}
	}
	if len(s.addrs) == 0 {
		return errors.New("no address")
	}
	return nil // checked by bench.Config.Validate
}

// isTerminal reports whether w is a terminal: a character device that
// answers as a terminal does (not /dev/null), to redraw bench's progress
// line in place and to colour tail's lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	_, ok = terminalSize(f)
	return ok
}
