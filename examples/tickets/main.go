// Command tickets is a small support desk: status changes are published
// by the ssevents publish middleware on the topic "ticket:<id>", and each
// user may follow only the tickets they can see (Config.Authorize).
//
//	go run ./tickets --addr :8000
//
// then open http://localhost:8000/?user=alice in one window and
// http://localhost:8000/?user=sam (support) in another, and change a
// status. SSE_* environment variables configure ssevents.
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
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *addr, logger)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tickets:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, logger *slog.Logger) error {
	sse, err := ssevents.ConfigFromEnv()
	if err != nil {
		return err
	}
	sse.Logger = logger
	h, cleanup, err := newServer(Config{SSE: sse})
	if err != nil {
		return err
	}
	return serve.Run(ctx, addr, h, cleanup, logger)
}
