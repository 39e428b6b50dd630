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
	"sync/atomic"
	"time"

	_ "github.com/ssevents/ssevents/broker/redis" // redis://, rediss://, redis+sentinel://, redis+cluster:// for SSE_REDIS_URL
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/settings"
	"github.com/ssevents/ssevents/sse"
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
	// TLSCertFile and TLSKeyFile, both set, are the PEM certificate chain
	// and private key to serve HTTPS with, HTTP/2 included. Default: none
	// (plain HTTP/1.1). Env: SSE_TLS_CERT_FILE, SSE_TLS_KEY_FILE.
	TLSCertFile, TLSKeyFile string
	// ShutdownTimeout bounds the graceful shutdown of Close. Default 10 s.
	// Env: SSE_SHUTDOWN_TIMEOUT_SECONDS.
	ShutdownTimeout time.Duration
	// Logger receives the logs. Default: text to stderr.
	Logger *slog.Logger

	logLevel, logFormat string // SSE_LOG_LEVEL, SSE_LOG_FORMAT, for ParseFlags

	hub      *hub.Hub
	ln       net.Listener
	stopping atomic.Bool // Close closed ln: Serve's error is expected
	tls      bool        // serving HTTPS
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

// Run opens the hub and starts serving on Addr in the background: HTTPS
// with HTTP/2 when TLSCertFile and TLSKeyFile are set, else HTTP/1.1. It
// loads the TLS pair, opens the hub and binds the listener, and only then
// logs "hub ready" with the URL; an error in any step is returned before
// that line. Close stops everything.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	tlsConfig, err := loadTLS(m.TLSCertFile, m.TLSKeyFile)
	if err != nil {
		return err
	}
	cfg := m.Config
	cfg.Logger = m.Logger
	h, err := hub.New(cfg)
	if errors.Is(err, sse.ErrUnavailable) && cfg.Broker == nil {
		// Name the setting to fix: the broker of --redis-url.
		return fmt.Errorf("%w; is the broker of --redis-url / SSE_REDIS_URL (%s) running?", err, hub.RedactURL(cfg.BrokerURL))
	}
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return errors.Join(fmt.Errorf("cannot listen on %s (SSE_ADDR): %w", m.Addr, listenReason(err)), h.Close())
	}
	m.hub, m.ln, m.tls = h, ln, tlsConfig != nil
	m.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// No ReadTimeout or WriteTimeout: they would cut streams; the SSE
		// handler sets a deadline per write and publish one per body.
		ErrorLog:  slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		TLSConfig: tlsConfig,
	}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if tlsConfig != nil {
			m.serveErr = m.srv.ServeTLS(ln, "", "") // the pair is in TLSConfig
		} else {
			m.serveErr = m.srv.Serve(ln)
		}
	}()
	h.LogReady(ctx, m.URL())
	return nil
}

// listenReason is the cause of a listen error without net.OpError's
// repetition of the address ("listen tcp 127.0.0.1:80: bind: permission
// denied" becomes "bind: permission denied").
func listenReason(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// URL returns the hub's base URL, e.g. "http://127.0.0.1:41234" (https://
// when serving TLS), once Run returned.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	addr := m.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http://"
	if m.tls {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(addr.Port))
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
		// Stop taking connections first: a client whose stream the hub
		// is about to end must reconnect elsewhere (or to the restarted
		// hub), not get this hub's 503 "shutting down", after which a
		// browser's EventSource never retries.
		if m.ln != nil && m.srv != nil {
			m.stopping.Store(true)
			_ = m.ln.Close()
			<-m.done // Serve returned: Shutdown finds no listener left to close
		}
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
			if !errors.Is(m.serveErr, http.ErrServerClosed) && !(m.stopping.Load() && errors.Is(m.serveErr, net.ErrClosed)) {
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
		Usage: "address to listen on", Allowed: "host:port", Check: checkAddr},
		func(m *Main) *string { return &m.Addr }),
	settings.String(settings.Spec{Name: "SSE_TLS_CERT_FILE", Field: "TLSCertFile",
		Usage:   "certificate chain to serve HTTPS and HTTP/2 with (with --tls-key-file)",
		Allowed: "path of a PEM file (CERTIFICATE blocks, the server's first)"},
		func(m *Main) *string { return &m.TLSCertFile }),
	settings.String(settings.Spec{Name: "SSE_TLS_KEY_FILE", Field: "TLSKeyFile",
		Usage:   "private key of the TLS certificate (with --tls-cert-file)",
		Allowed: "path of a PEM file (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"},
		func(m *Main) *string { return &m.TLSKeyFile }),
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

// checkAddr accepts a listen address: host:port, with a port number (0
// picks a free port) and a host that may be empty (every interface).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err)
		}
		return fmt.Errorf("%v; want host:port, as in :8000 or 127.0.0.1:8000", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535; want host:port, as in :8000 or 127.0.0.1:8000", port)
	}
	return nil
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
	if err := parseFlags(fs, args); err != nil {
		return err // the usage only for -h; a mistake is one line
	}
	if err := settings.ApplyLookup(m, all, get); err != nil {
		return asUsage(err)
	}
	if err := checkTLSPair(m.TLSCertFile, m.TLSKeyFile); err != nil {
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
	_, _ = fmt.Fprintln(w, "usage: ssevents serve [flags]")
	_, _ = fmt.Fprintln(w, "\nRuns the hub: SSE endpoint, POST /publish, demo page at /, health and metrics.")
	_, _ = fmt.Fprintln(w, "Each setting is a flag or an environment variable; the flag wins.")
	_, _ = fmt.Fprintln(w, "Prefer the variable for secrets: flags show in the process list.")
	_, _ = fmt.Fprintln(w)
	settings.PrintUsage(w, all)
}

// RunCommand runs the ssevents command line (args without the program
// name, e.g. "publish", "--topic", "a") in process, for end-to-end tests.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr)
}
