// Command dashboard is a live metrics page: the server takes a sample of a
// simulated service (and of its own process) every second and publishes
// it as metrics_tick on dashboard:metrics; the page draws it on a canvas
// chart as it arrives. Moving the load slider in one window moves it in
// every window (load_changed on dashboard:control).
//
//	go run ./dashboard --addr :8000 --interval 1s
//
// SSE_* environment variables configure ssevents.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

func main() {
	addr := flag.String("addr", ":8000", "address to listen on")
	interval := flag.Duration("interval", DefaultInterval, "time between samples")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *addr, Config{Interval: *interval}, logger)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, cfg Config, logger *slog.Logger) error {
	sse, err := ssevents.ConfigFromEnv()
	if err != nil {
		return err
	}
	sse.Logger = logger
	cfg.SSE = sse
	h, cleanup, err := newServer(cfg)
	if err != nil {
		return err
	}
	return serve.Run(ctx, addr, h, cleanup, logger)
}
