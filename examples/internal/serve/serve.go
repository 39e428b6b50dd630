// Package serve runs an example's handler until the process is told to
// stop, the way a real service should: SSE streams are ended first (a
// stream never ends on its own, so http.Server.Shutdown would wait for it
// until its timeout), then in-flight requests finish.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ssevents/ssevents"
)

// Main is an example's main: it parses --addr (default :8000) and any flag
// the example defined on flag.CommandLine, reads the SSE_* variables, builds
// the example's handler with build and serves it until SIGINT or SIGTERM.
// On an error it prints it, prefixed with name, and exits 1.
func Main(name string, build func(sse ssevents.Config) (http.Handler, func() error, error)) {
	addr := flag.String("addr", ":8000", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := func() error {
		sse, err := ssevents.ConfigFromEnv()
		if err != nil {
			return err
		}
		sse.Logger = logger
		h, cleanup, err := build(sse)
		if err != nil {
			return err
		}
		return Run(ctx, *addr, h, cleanup, logger)
	}()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the wait for in-flight REST requests at exit.
const shutdownTimeout = 10 * time.Second

// Run listens on addr and serves h until ctx ends. cleanup (an App's
// Close) runs before the server shuts down. It returns the first error of
// listening, cleanup and shutdown.
func Run(ctx context.Context, addr string, h http.Handler, cleanup func() error, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, cleanup())
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: it would cut every SSE stream. The SSE handler
		// sets a deadline on each of its own writes instead.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "url", "http://"+displayAddr(ln.Addr()))

	select {
	case err := <-errc:
		return errors.Join(err, cleanup())
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	cerr := cleanup()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return errors.Join(cerr, srv.Shutdown(sctx))
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
