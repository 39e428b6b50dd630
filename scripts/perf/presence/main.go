package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// config is what the flags set.
type config struct {
	target, url, secret, apiKey, prefix, redis string
	streams, users, topics, big, sources       int
	concurrency, calls, limit, churn           int
	churnRate                                  float64
	steady, timeout                            time.Duration
	serverPID, redisPID                        int
}

// pids names the processes whose CPU is measured.
func (c config) pids() map[string]int {
	m := map[string]int{"self": os.Getpid()}
	if c.serverPID > 0 {
		m["server"] = c.serverPID
	}
	if c.redisPID > 0 {
		m["redis"] = c.redisPID
	}
	return m
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("presload", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", "", "ssevents or centrifugo")
	fs.StringVar(&c.url, "url", "", "the server's base URL, a loopback address (http://127.0.0.1:PORT)")
	fs.StringVar(&c.secret, "secret", os.Getenv("PRESLOAD_SECRET"), "HS256 secret of the tokens (default $PRESLOAD_SECRET)")
	fs.StringVar(&c.apiKey, "api-key", os.Getenv("PRESLOAD_API_KEY"), "Centrifugo's HTTP API key (default $PRESLOAD_API_KEY)")
	fs.StringVar(&c.prefix, "prefix", "pres:", "topic name prefix (Centrifugo: the namespace with presence, and its ':')")
	fs.StringVar(&c.redis, "redis", "", "host:port of the Redis to read INFO memory from (optional)")
	fs.IntVar(&c.streams, "streams", 12000, "streams to open")
	fs.IntVar(&c.users, "users", 10000, "distinct users: stream i is user-(i mod users)")
	fs.IntVar(&c.topics, "topics", 11, "topics: the big one and topics-1 others")
	fs.IntVar(&c.big, "big", 10000, "streams on the big topic (the first ones)")
	fs.IntVar(&c.sources, "source-addrs", 8, "loopback source addresses 127.0.0.2 ... to dial from")
	fs.IntVar(&c.concurrency, "concurrency", 256, "streams being opened at once")
	fs.IntVar(&c.calls, "calls", 500, "calls of each snapshot latency measurement")
	fs.IntVar(&c.limit, "limit", 100, "members asked for in the members snapshot (ssevents)")
	fs.IntVar(&c.churn, "churn", 1000, "streams of the big topic closed and opened again (0: no churn)")
	fs.Float64Var(&c.churnRate, "churn-rate", 500, "streams closed, then opened, a second in the churn")
	fs.DurationVar(&c.steady, "steady", 30*time.Second, "steady-state window for the CPU (Centrifugo refreshes presence every 27 s)")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "how long counts and events may take to be exact")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the server's pid, for its CPU and memory (optional)")
	fs.IntVar(&c.redisPID, "redis-pid", 0, "redis-server's pid, for its CPU (optional)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.target != "ssevents" && c.target != "centrifugo":
		return c, errors.New("--target is ssevents or centrifugo")
	case c.url == "":
		return c, errors.New("--url is required")
	case c.secret == "":
		return c, errors.New("--secret (or PRESLOAD_SECRET) is required")
	case c.target == "centrifugo" && c.apiKey == "":
		return c, errors.New("--api-key (or PRESLOAD_API_KEY) is required for centrifugo")
	case c.streams < 1 || c.users < 1 || c.topics < 1 || c.big < 1 || c.big > c.streams:
		return c, errors.New("want streams, users, topics, big >= 1 and big <= streams")
	case c.topics == 1 && c.big != c.streams:
		return c, errors.New("with one topic every stream is on it: --big must be --streams")
	case c.sources < 1 || c.sources > 250 || c.concurrency < 1 || c.calls < 1 || c.churnRate <= 0:
		return c, errors.New("want source-addrs 1..250, concurrency, calls >= 1 and churn-rate > 0")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "presload:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := load(ctx, cfg)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if rep != nil {
		_ = enc.Encode(rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "presload:", err)
		os.Exit(1)
	}
}

// load runs cfg and returns its report.
func load(ctx context.Context, cfg config) (*report, error) {
	u, err := url.Parse(cfg.url)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--url %s: only loopback addresses may be loaded", cfg.url)
	}
	// The API calls share a few kept-alive connections.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var tgt target
	if cfg.target == "centrifugo" {
		tgt = &centrifugo{base: cfg.url, secret: []byte(cfg.secret), apiKey: cfg.apiKey, client: client}
	} else if tgt, err = newSSEvents(cfg.url, []byte(cfg.secret), client); err != nil {
		return nil, err
	}
	env := &streamEnv{tgt: tgt, addr: u.Host, topics: topicNames(cfg.prefix, cfg.topics), log: newEventLog()}
	for i := range cfg.sources {
		env.sources = append(env.sources, net.IPv4(127, 0, 0, byte(2+i)))
	}
	ss := plan(cfg.streams, cfg.users, cfg.topics, cfg.big)
	r := &run{cfg: cfg, env: env, streams: ss, live: make([]atomic.Bool, len(ss)), rep: &report{
		Target: cfg.target, URL: cfg.url, Streams: cfg.streams, Users: cfg.users, Topics: cfg.topics,
		Big: cfg.big, SourceAddrs: cfg.sources, Start: time.Now().UTC().Format(time.RFC3339), LoadStart: loadAvg()}}
	err = r.execute(ctx)
	r.rep.LoadEnd = loadAvg()
	return r.rep, err
}
