package ssevents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	_ "github.com/ssevents/ssevents/broker/memory" // the default broker, "memory://"

	"github.com/ssevents/ssevents/sse"
)

// App is the one-call setup (fastapi-sse-events' SSEApp): a broker, the SSE endpoint,
// health and metrics endpoints, and a mux for the application's own routes,
// as one http.Handler. It embeds a Publisher, so app.Publish publishes.
//
// Routes it serves: GET Config.Path (/events), GET /presence (see
// Config.Presence), GET /position (see Position), GET /ssevents.js (the
// browser client, see ClientJSPath), GET /health,
// /health/live, /health/ready, GET /metrics (JSON) and
// /metrics/prometheus, plus whatever Handle registers. Every request that
// reaches the app's own routes carries the Publisher in its context.
type App struct {
	*Publisher
	cfg        Config
	broker     sse.Broker
	ownsBroker bool
	metrics    *Metrics
	events     *Handler
	mux        *http.ServeMux
	outbox     *presenceOutbox // nil: presence off
}

// New validates cfg, opens its broker (Config.Broker, or the one
// Config.BrokerURL names, "memory://" by default) and
// returns the app. Close it when done.
func New(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := NewMetrics()
	a := &App{cfg: cfg, metrics: m, broker: cfg.Broker, mux: http.NewServeMux()}
	if a.broker == nil {
		b, err := sse.OpenBroker(context.Background(), cfg.BrokerURL, cfg.brokerOptions(m))
		if err != nil {
			return nil, err
		}
		a.broker, a.ownsBroker = b, true
	}
	if tc, ok := a.broker.(interface{ TopicCount() int }); ok {
		m.topics = tc.TopicCount
	}
	if d, ok := a.broker.(interface {
		DiskBytes() int64
		Fsyncs() int64
	}); ok {
		m.disk = func() (int64, int64) { return d.DiskBytes(), d.Fsyncs() }
	}
	a.Publisher = NewPublisher(a.broker, cfg.MaxMessageSize, m)
	a.Publisher.logger = cfg.Logger
	a.events = NewHandler(cfg, a.broker, m)
	p, err := openPresence(cfg, a.broker, m)
	if err != nil {
		if a.ownsBroker {
			_ = a.broker.Close()
		}
		return nil, err
	}
	if p != nil {
		a.events.presence = p
		a.outbox = startOutbox(cfg, p)
	}
	a.Register(a.mux)
	return a, nil
}

// Mount creates an App from cfg and registers its endpoints on mux, next
// to the application's own routes (fastapi-sse-events' mount_sse).
func Mount(mux *http.ServeMux, cfg Config) (*App, error) {
	a, err := New(cfg)
	if err != nil {
		return nil, err
	}
	a.Register(mux)
	return a, nil
}

// Register adds the app's endpoints (SSE, health, metrics) to mux.
func (a *App) Register(mux *http.ServeMux) {
	mux.Handle(a.cfg.Path, a.events) // any method: the handler answers 405 in JSON
	mux.HandleFunc("GET /presence", a.handlePresence)
	mux.HandleFunc("GET "+ClientJSPath, handleClientJS)
	mux.HandleFunc("GET /position", a.handlePosition)
	mux.HandleFunc("GET /health", a.handleHealth)
	mux.HandleFunc("GET /health/live", a.handleLive)
	mux.HandleFunc("GET /health/ready", a.handleReady)
	mux.HandleFunc("GET /metrics", a.handleMetrics)
	mux.Handle("GET /metrics/prometheus", a.metrics.PrometheusHandler())
}

// Handle registers an application route on the app's mux, with Go 1.22
// patterns ("POST /tickets/{id}/status"). The requests it gets carry the
// app's Publisher in their context (PublisherFrom).
func (a *App) Handle(pattern string, h http.Handler) {
	a.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithPublisher(r.Context(), a.Publisher)))
	}))
}

// HandleFunc registers an application route function on the app's mux,
// like Handle.
func (a *App) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	a.Handle(pattern, http.HandlerFunc(f))
}

// ServeHTTP implements http.Handler: the app's one mux routes every
// request, the SSE path included.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Broker returns the app's broker.
func (a *App) Broker() sse.Broker { return a.broker }

// Metrics returns the app's metrics.
func (a *App) Metrics() *Metrics { return a.metrics }

// Events returns the SSE endpoint handler, to mount it elsewhere.
func (a *App) Events() *Handler { return a.events }

// Config returns the app's configuration, with defaults filled in.
func (a *App) Config() Config { return a.cfg }

// shutdownPublishWait bounds how long Close waits for publishes in flight:
// longer than a broker's own publish timeout (2 s for Redis by default), so
// each of them ends with its real outcome.
const shutdownPublishWait = 5 * time.Second

// Close shuts the app down in the order that loses nothing: first every
// new publish is refused (ErrShuttingDown, 503) and the publishes in flight
// are waited for, then every stream writes what is queued for it and ends
// (its client reconnects, elsewhere or later, with Last-Event-ID), then the
// broker is closed if the app opened it. Call it before (or from
// RegisterOnShutdown of) http.Server.Shutdown, which otherwise waits for
// streams that never end on their own.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownPublishWait)
	err := a.Publisher.Stop(ctx)
	cancel()
	err = errors.Join(err, a.events.Close())
	if a.outbox != nil {
		a.outbox.close()
		err = errors.Join(err, a.events.presence.store.Close())
	}
	if a.ownsBroker {
		err = errors.Join(err, a.broker.Close())
	}
	return err
}

// readyTimeout bounds the broker check of /health/ready.
const readyTimeout = 2 * time.Second

// Health is the JSON body of the health endpoints.
type Health struct {
	// Status is "ok", "ready" or "unavailable".
	Status string `json:"status"`
	// Broker is "ok" or what is wrong with it.
	Broker string `json:"broker,omitempty"`
	// Connections is the number of open streams.
	Connections int `json:"connections"`
	// Error says why the instance is not ready (with status 503).
	Error string `json:"error,omitempty"`
}

func (a *App) brokerState(r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	return a.broker.Ready(ctx)
}

// handleHealth answers 200 while the process serves requests, and says
// whether the broker is reachable.
func (a *App) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Broker: "ok", Connections: a.events.Connections()}
	if err := a.brokerState(r); err != nil {
		h.Broker = err.Error()
	}
	WriteJSON(w, http.StatusOK, h)
}

// handleLive answers 200 while the process serves requests.
func (a *App) handleLive(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, Health{Status: "ok", Connections: a.events.Connections()})
}

// handleReady answers 200 when the broker can publish and deliver, 503
// otherwise (so a load balancer sends no new streams here).
func (a *App) handleReady(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ready", Broker: "ok", Connections: a.events.Connections()}
	status := http.StatusOK
	if a.events.ctx.Err() != nil {
		h.Status, h.Broker, h.Error = "unavailable", "", "ssevents: server is shutting down"
		status = http.StatusServiceUnavailable
	} else if err := a.brokerState(r); err != nil {
		h.Status, h.Broker = "unavailable", err.Error()
		h.Error = fmt.Sprintf("ssevents: broker not ready: %v", err)
		status = http.StatusServiceUnavailable
	}
	WriteJSON(w, status, h)
}

func (a *App) handleMetrics(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, a.metrics.Snapshot())
}
