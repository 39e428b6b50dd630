// Command crm-comments is a collaborative comment thread: a REST API for
// comments, and a page where a comment posted in one window appears in
// every other window, through Server-Sent Events (notify, then fetch).
//
//	go run ./crm-comments --addr :8000
//
// then open http://localhost:8000/?thread=general in two windows.
// SSE_* environment variables configure ssevents (SSE_REDIS_URL to fan out
// through Redis between several instances).
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
		fmt.Fprintln(os.Stderr, "crm-comments:", err)
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
