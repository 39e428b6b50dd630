package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	_ "github.com/ssevents/ssevents/broker/redis" // redis://, rediss://, redis+sentinel://, redis+cluster:// for SSE_REDIS_URL
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/settings"
)

// Defaults of the serve command's own settings.
const (
	// defaultAddr is where the hub listens.
	defaultAddr = ":8000"
	// defaultShutdownTimeout bounds the wait for requests in flight at
	// shutdown, after every stream was ended.
	defaultShutdownTimeout = 10 * time.Second
	// readHeaderTimeout bounds reading a request's headers, so that a
	// client that trickles them cannot hold a connection (slowloris).
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections idle this long.
	idleTimeout = 120 * time.Second
)

// Main is the hub program: its configuration (from flags and SSE_*
// variables), the hub, and the HTTP server. End-to-end tests run the real
// wiring with Addr "127.0.0.1:0" and learn the bound address from URL.
type Main struct {
	// Config configures the hub.
	Config hub.Config
	// Addr is the listen address. Default ":8000". Env: SSE_ADDR.
	Addr string
	// ShutdownTimeout bounds the graceful shutdown of Close. Default 10 s.
	// Env: SSE_SHUTDOWN_TIMEOUT_SECONDS.
	ShutdownTimeout time.Duration
	// Logger receives the logs. Default: text to stderr.
	Logger *slog.Logger

	logLevel, logFormat string // SSE_LOG_LEVEL, SSE_LOG_FORMAT, for ParseFlags

	hub      *hub.Hub
	ln       net.Listener
	srv      *http.Server
	done     chan struct{} // closed when Serve returned
	serveErr error
	closeOne sync.Once
	closeErr error
}

// NewMain returns a Main with the defaults.
func NewMain() *Main {
	return &Main{Addr: defaultAddr, ShutdownTimeout: defaultShutdownTimeout}
}

// Run opens the hub and starts serving on Addr in the background. It
// returns once the listener is bound; Close stops everything.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg := m.Config
	cfg.Logger = m.Logger
	h, err := hub.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", m.Addr, err), h.Close())
	}
	m.hub, m.ln = h, ln
	m.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// No ReadTimeout or WriteTimeout: they would cut streams; the SSE
		// handler sets a deadline per write and publish one per body.
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		m.serveErr = m.srv.Serve(ln)
	}()
	if cfg.DisableDemo {
		m.Logger.InfoContext(ctx, "listening", "addr", ln.Addr().String())
	} else {
		m.Logger.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "demo", m.URL()+"/")
	}
	return nil
}

// URL returns the hub's base URL, e.g. "http://127.0.0.1:41234", once Run
// returned.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	addr := m.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Hub returns the running hub.
func (m *Main) Hub() *hub.Hub { return m.hub }

// Done is closed when the server stopped serving (after Close, or when it
// failed).
func (m *Main) Done() <-chan struct{} { return m.done }

// Close ends every stream (the hub's Close), then shuts the server down,
// waiting up to ShutdownTimeout for other requests in flight. It is
// idempotent.
func (m *Main) Close() error {
	m.closeOne.Do(func() {
		var errs []error
		if m.hub != nil {
			errs = append(errs, m.hub.Close())
		}
		if m.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.ShutdownTimeout)
			if err := m.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown: %w", err), m.srv.Close())
			}
			cancel()
			<-m.done
			if !errors.Is(m.serveErr, http.ErrServerClosed) {
				errs = append(errs, m.serveErr)
			}
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

// runServe is `ssevents serve`: it runs the hub until ctx ends (SIGINT or
// SIGTERM), then shuts down gracefully.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := NewMain()
	if err := m.ParseFlags(args, os.LookupEnv, stderr); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		m.Logger.Info("shutting down")
	case <-m.Done():
	}
	return m.Close()
}

// ownSettings are the settings of the serve command itself, beyond the
// hub's.
var ownSettings = []settings.Setting[Main]{
	settings.String(settings.Spec{Name: "SSE_ADDR", Field: "Addr", Default: defaultAddr,
		Usage: "address to listen on", Allowed: "host:port"},
		func(m *Main) *string { return &m.Addr }),
	settings.Duration(settings.Spec{Name: "SSE_SHUTDOWN_TIMEOUT_SECONDS", Field: "ShutdownTimeout",
		Default: strconv.Itoa(int(defaultShutdownTimeout / time.Second)),
		Usage:   "seconds to wait for requests in flight at shutdown", Min: 1, Max: 600, Unit: "s"},
		func(m *Main) *time.Duration { return &m.ShutdownTimeout }),
	settings.Enum(settings.Spec{Name: "SSE_LOG_LEVEL", Field: "logLevel", Default: "info",
		Usage: "least severe log level written", Values: []string{"debug", "info", "warn", "error"}},
		func(m *Main) *string { return &m.logLevel }),
	settings.Enum(settings.Spec{Name: "SSE_LOG_FORMAT", Field: "logFormat", Default: "text",
		Usage: "log format, on stderr", Values: []string{"text", "json"}},
		func(m *Main) *string { return &m.logFormat }),
}

// ServeSettings lists every setting of `ssevents serve`: the command's
// own, then the hub's (the core's first). Its flags, help and the README's
// tables derive from it.
func ServeSettings() []settings.Setting[Main] {
	hubs := settings.Lift(hub.Settings, func(m *Main) *hub.Config { return &m.Config })
	return append(append([]settings.Setting[Main](nil), ownSettings...), hubs...)
}

// ParseFlags fills m from args and the variables lookup finds (os.LookupEnv
// in the command); a flag wins over its variable. An invalid value is an
// error naming the variable and what is allowed.
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := ServeSettings()
	get := settings.DefineFlags(fs, all, lookup)
	fs.Usage = func() { serveUsage(stderr, all) }
	if err := fs.Parse(args); err != nil {
		return asUsage(err)
	}
	if err := strayArgument(fs, args); err != nil {
		return asUsage(err)
	}
	if err := settings.ApplyLookup(m, all, get); err != nil {
		return asUsage(err)
	}
	m.Logger = newLogger(m.logLevel, m.logFormat, stderr)
	return nil
}

// newLogger builds the logger SSE_LOG_LEVEL and SSE_LOG_FORMAT chose (their
// values were checked when parsed).
func newLogger(level, format string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // "" or a declared level: info when empty
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serveUsage prints every setting with its flag, variable, default and
// allowed values.
func serveUsage(w io.Writer, all []settings.Setting[Main]) {
	fmt.Fprintln(w, "usage: ssevents serve [flags]")
	fmt.Fprintln(w, "\nRuns the hub: SSE endpoint, POST /publish, demo page at /, health and metrics.")
	fmt.Fprintln(w, "Each setting is a flag or an environment variable; the flag wins.")
	fmt.Fprintln(w, "Prefer the variable for secrets: flags show in the process list.")
	fmt.Fprintln(w)
	settings.PrintUsage(w, all)
}

// RunCommand runs the ssevents command line (args without the program
// name, e.g. "publish", "--topic", "a") in process, for end-to-end tests.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr)
}
