package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	bin      string
	addrs    []string // one hub, or two with --redis
	redisURL string
	dataDir  string
	streams  int
	topics   int
	before   int
	missed   int
	restart  string
	timeout  time.Duration
	noHold   bool // streams reconnect when their retry timer fires, whatever the hub's state
	logDir   string
	settings []string // SSE_VAR=value for the hubs
}

func main() {
	cfg, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := newRun(cfg)
	rep, err := r.execute(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(2)
	}
	fmt.Print(rep.String())
	if !rep.ok() {
		os.Exit(1)
	}
}

func parseArgs(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	fs.StringVar(&cfg.bin, "bin", "ssevents", "the ssevents binary")
	addrs := fs.String("addr", "", "loopback host:port of the hub; with -redis, two separated by a comma")
	fs.StringVar(&cfg.redisURL, "redis", "", "redis:// URL: run two hubs on it (SSE_REDIS_URL) and restart the first")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "SSE_DATA_DIR of the hub (kept across the restart)")
	fs.IntVar(&cfg.streams, "streams", 19000, "streams")
	fs.IntVar(&cfg.topics, "topics", 100, "topics; stream i subscribes to topic i mod T")
	fs.IntVar(&cfg.before, "before", 10, "events per topic published before the restart")
	fs.IntVar(&cfg.missed, "missed", 10, "events per topic published after the restart, before the streams come back")
	fs.StringVar(&cfg.restart, "restart", "sigterm", "how the hub is stopped: sigterm or kill9")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "how long after the hub listens again the streams may take to catch up")
	fs.BoolVar(&cfg.noHold, "no-hold", false, "let a stream whose retry timer fires before the missed events are published reconnect at once, as a browser does (to the old hub while it shuts down, or to a hub that is down)")
	fs.StringVar(&cfg.logDir, "log-dir", os.TempDir(), "directory for the hubs' logs")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.settings = fs.Args()
	for _, s := range cfg.settings {
		if !strings.HasPrefix(s, "SSE_") || !strings.Contains(s, "=") {
			return cfg, fmt.Errorf("hub setting %q is not SSE_VAR=value", s)
		}
	}
	if *addrs != "" {
		cfg.addrs = strings.Split(*addrs, ",")
	}
	switch {
	case cfg.redisURL == "" && len(cfg.addrs) != 1:
		return cfg, fmt.Errorf("-addr wants one host:port")
	case cfg.redisURL != "" && len(cfg.addrs) != 2:
		return cfg, fmt.Errorf("-addr wants two host:port separated by a comma with -redis")
	case cfg.redisURL != "" && cfg.dataDir != "":
		return cfg, fmt.Errorf("-data-dir is for the embedded broker; Redis holds the history with -redis")
	case cfg.restart != "sigterm" && cfg.restart != "kill9":
		return cfg, fmt.Errorf("-restart is sigterm or kill9, not %q", cfg.restart)
	case cfg.streams < 1 || cfg.topics < 1 || cfg.before < 1 || cfg.missed < 1:
		return cfg, fmt.Errorf("-streams, -topics, -before and -missed must be at least 1")
	case cfg.streams < cfg.topics*len(cfg.addrs):
		return cfg, fmt.Errorf("-streams must be at least -topics times the hubs, so that every topic has a stream on every hub")
	}
	return cfg, nil
}

// hubEnv is the environment of the hub at addr: PATH, its address, the
// broker, the data directory and the settings given after --.
func (cfg config) hubEnv(addr string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "SSE_ADDR=" + addr}
	if cfg.redisURL != "" {
		env = append(env, "SSE_REDIS_URL="+cfg.redisURL)
	}
	if cfg.dataDir != "" {
		env = append(env, "SSE_DATA_DIR="+cfg.dataDir)
	}
	return append(env, cfg.settings...)
}

// hubs makes the hub processes, not yet started: "a" (the one restarted)
// and, with Redis, "b".
func (cfg config) hubs() []*hubProc {
	var hs []*hubProc
	for i, addr := range cfg.addrs {
		hs = append(hs, &hubProc{name: "hub-" + string(rune('a'+i)), addr: addr, bin: cfg.bin,
			env: cfg.hubEnv(addr), logDir: filepath.Clean(cfg.logDir)})
	}
	return hs
}
