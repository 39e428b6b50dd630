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
	"strings"
	"sync"
	"time"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // redis://, rediss://, redis+sentinel://, redis+cluster:// for SSE_REDIS_URL
	"github.com/ssevents/ssevents/hub"
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
	// ShutdownTimeout bounds the graceful shutdown of Close. Default 10 s.
	// Env: SSE_SHUTDOWN_TIMEOUT_SECONDS.
	ShutdownTimeout time.Duration
	// Logger receives the logs. Default: text to stderr.
	Logger *slog.Logger

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

// setting is one line of `ssevents serve -h`: an SSE_* variable and its
// flag.
type setting struct {
	name, allowed, def, usage string
}

// flagName is the flag of an SSE_* variable: SSE_JWT_SECRET is jwt-secret.
func (s setting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.name, "SSE_")), "_", "-")
}

// isBool reports whether the flag may be given without a value.
func (s setting) isBool() bool { return s.allowed == "true or false" }

// serveOwnSettings are the variables of the serve command itself.
var serveOwnSettings = []setting{
	{"SSE_ADDR", "host:port", defaultAddr, "address to listen on"},
	{"SSE_SHUTDOWN_TIMEOUT_SECONDS", "integer 1 to 600", strconv.Itoa(int(defaultShutdownTimeout / time.Second)), "seconds to wait for requests in flight at shutdown"},
	{"SSE_LOG_LEVEL", "debug, info, warn or error", "info", "least severe log level written"},
	{"SSE_LOG_FORMAT", "text or json", "text", "log format, on stderr"},
}

// coreDefaults are the defaults of ssevents.EnvVars, for the help text.
var coreDefaults = map[string]string{
	"SSE_REDIS_URL":             `"" (embedded broker)`,
	"SSE_PATH":                  ssevents.DefaultPath,
	"SSE_TOPIC_PREFIX":          "none",
	"SSE_HEARTBEAT_SECONDS":     strconv.Itoa(int(ssevents.DefaultHeartbeatInterval / time.Second)),
	"SSE_HEARTBEAT_EVENT":       "false",
	"SSE_MAX_CONNECTIONS":       strconv.Itoa(ssevents.DefaultMaxConnections),
	"SSE_MAX_QUEUE_SIZE":        strconv.Itoa(ssevents.DefaultMaxQueueSize),
	"SSE_MAX_MESSAGE_SIZE":      strconv.Itoa(ssevents.DefaultMaxMessageSize),
	"SSE_MAX_TOPICS":            strconv.Itoa(ssevents.DefaultMaxTopicsPerConnection),
	"SSE_HISTORY_SIZE":          strconv.Itoa(sse.DefaultHistorySize),
	"SSE_HISTORY_SECONDS":       strconv.Itoa(int(sse.DefaultHistoryAge / time.Second)),
	"SSE_RETRY_MS":              strconv.Itoa(int(ssevents.DefaultRetry / time.Millisecond)),
	"SSE_WRITE_TIMEOUT_SECONDS": strconv.Itoa(int(ssevents.DefaultWriteTimeout / time.Second)),
}

// serveSettings lists every setting of `ssevents serve`: the command's,
// the core's and the hub's.
func serveSettings() []setting {
	all := append([]setting(nil), serveOwnSettings...)
	for _, v := range ssevents.EnvVars {
		all = append(all, setting{v.Name, v.Allowed, coreDefaults[v.Name], v.Usage})
	}
	for _, v := range hub.Settings {
		all = append(all, setting{v.Name, v.Allowed, v.Default, v.Usage})
	}
	return all
}

// textFlag is a string flag that remembers whether it was set; a bool
// setting's flag may be given alone (--demo means --demo=true).
type textFlag struct {
	value string
	set   bool
	bool  bool
}

func (f *textFlag) String() string { return f.value }

func (f *textFlag) Set(v string) error { f.value, f.set = v, true; return nil }

func (f *textFlag) IsBoolFlag() bool { return f.bool }

// ParseFlags fills m from args and the variables lookup finds (os.LookupEnv
// in the command); a flag wins over its variable. An invalid value is an
// error naming the variable and what is allowed.
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := serveSettings()
	flags := make(map[string]*textFlag, len(settings))
	for _, s := range settings {
		f := &textFlag{bool: s.isBool()}
		flags[s.name] = f
		fs.Var(f, s.flagName(), s.usage)
	}
	fs.Usage = func() { serveUsage(stderr, settings) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		serveUsage(stderr, settings)
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) (string, bool) {
		if f := flags[name]; f != nil && f.set {
			return f.value, true
		}
		return lookup(name)
	}
	if v, ok := get("SSE_ADDR"); ok && v != "" {
		m.Addr = v
	}
	if v, ok := get("SSE_SHUTDOWN_TIMEOUT_SECONDS"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			return fmt.Errorf("%w: SSE_SHUTDOWN_TIMEOUT_SECONDS=%q: want an integer from 1 to 600", sse.ErrInvalidConfig, v)
		}
		m.ShutdownTimeout = time.Duration(n) * time.Second
	}
	logger, err := newLogger(get, stderr)
	if err != nil {
		return err
	}
	m.Logger = logger
	return m.Config.ApplyLookup(get)
}

// newLogger builds the logger SSE_LOG_LEVEL and SSE_LOG_FORMAT describe.
func newLogger(get func(string) (string, bool), w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if v, ok := get("SSE_LOG_LEVEL"); ok && v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("%w: SSE_LOG_LEVEL=%q: want debug, info, warn or error", sse.ErrInvalidConfig, v)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch v, _ := get("SSE_LOG_FORMAT"); v {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: SSE_LOG_FORMAT=%q: want text or json", sse.ErrInvalidConfig, v)
	}
}

// serveUsage prints every setting with its flag, variable, default and
// allowed values.
func serveUsage(w io.Writer, settings []setting) {
	fmt.Fprintln(w, "usage: ssevents serve [flags]")
	fmt.Fprintln(w, "\nRuns the hub: SSE endpoint, POST /publish, demo page at /, health and metrics.")
	fmt.Fprintln(w, "Each setting is a flag or an environment variable; the flag wins.")
	fmt.Fprintln(w, "Prefer the variable for secrets: flags show in the process list.")
	fmt.Fprintln(w)
	for _, s := range settings {
		fmt.Fprintf(w, "  --%s  (env %s)\n", s.flagName(), s.name)
		fmt.Fprintf(w, "        %s; default %s; allowed: %s\n", s.usage, s.def, s.allowed)
	}
}

// RunCommand runs the ssevents command line (args without the program
// name, e.g. "publish", "--topic", "a") in process, for end-to-end tests.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr)
}
