package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

//go:embed index.html
var indexHTML []byte

// Topics and events of the dashboard.
const (
	topicMetrics = "dashboard:metrics" // one metrics_tick per interval
	topicControl = "dashboard:control" // load_changed when someone moves the slider
	eventTick    = "metrics_tick"
	eventLoad    = "load_changed"
)

// DefaultInterval is how often a sample is taken and published: often
// enough for a chart that moves, rarely enough to be nothing on the wire.
const DefaultInterval = time.Second

// historySamples is how many samples /samples returns to fill the chart
// of a page that just opened: one minute at the default interval.
const historySamples = 60

// Config configures the example server. Zero fields take defaults.
type Config struct {
	// SSE configures the ssevents App.
	SSE ssevents.Config
	// Interval between samples. Default DefaultInterval (1 s).
	Interval time.Duration
}

// Sample is the data of a metrics_tick event: a simulated service's
// traffic (driven by the load level) and this process's real figures.
type Sample struct {
	Time              int64   `json:"time"` // Unix milliseconds
	RequestsPerSecond float64 `json:"requests_per_second"`
	P95Ms             float64 `json:"p95_ms"`
	ErrorRate         float64 `json:"error_rate"`
	Load              int     `json:"load"`
	SSEConnections    int64   `json:"sse_connections"`
	Goroutines        int     `json:"goroutines"`
	HeapMB            float64 `json:"heap_mb"`
}

// LoadChange is the data of a load_changed event.
type LoadChange struct {
	Level     int       `json:"level"`
	ChangedAt time.Time `json:"changed_at"`
}

// newServer returns the example's handler and the function that stops
// its sampler, ends its streams and closes its broker.
func newServer(cfg Config) (h http.Handler, cleanup func() error, err error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	app, err := ssevents.New(cfg.SSE)
	if err != nil {
		return nil, nil, err
	}
	logger := cfg.SSE.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{app: app, logger: logger, load: 3}
	s.wg.Add(1)
	go s.sample(ctx, cfg.Interval)

	app.HandleFunc("GET /{$}", s.handleIndex)
	app.HandleFunc("GET /samples", s.handleSamples)
	app.HandleFunc("GET /load", s.handleGetLoad)
	app.HandleFunc("POST /load", s.handleSetLoad)
	return app, func() error {
		cancel()
		s.wg.Wait()
		return app.Close()
	}, nil
}

type server struct {
	app    *ssevents.App
	logger *slog.Logger
	wg     sync.WaitGroup

	mu      sync.Mutex
	load    int      // 1 to 10, the simulated traffic level
	samples []Sample // the last historySamples, oldest first
}

// sample publishes one Sample per interval until ctx ends.
func (s *server) sample(ctx context.Context, interval time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var mem runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			runtime.ReadMemStats(&mem)
			s.mu.Lock()
			load := s.load
			s.mu.Unlock()
			// A service whose traffic follows the load level, with a slow
			// wave and some noise, and whose latency grows with it.
			wave := math.Sin(float64(now.UnixMilli())/8000) * 0.15
			rps := float64(load) * 120 * (1 + wave + rand.NormFloat64()*0.04)
			smp := Sample{
				Time:              now.UnixMilli(),
				RequestsPerSecond: round1(math.Max(rps, 0)),
				P95Ms:             round1(18 + float64(load*load)*2.2 + math.Abs(rand.NormFloat64())*6),
				ErrorRate:         round1(math.Max(0, float64(load-7)) * 0.8 * rand.Float64()),
				Load:              load,
				SSEConnections:    s.app.Metrics().Snapshot().Connections.Current,
				Goroutines:        runtime.NumGoroutine(),
				HeapMB:            round1(float64(mem.HeapAlloc) / (1 << 20)),
			}
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			if len(s.samples) > historySamples {
				s.samples = append(s.samples[:0], s.samples[1:]...)
			}
			s.mu.Unlock()
			if _, err := s.app.Publish(ctx, topicMetrics, eventTick, smp); err != nil && ctx.Err() == nil {
				s.logger.Warn("publish sample", "error", err)
			}
		}
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(indexHTML)
}

// handleSamples returns the recent samples, to fill a new page's chart.
func (s *server) handleSamples(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := append([]Sample{}, s.samples...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *server) handleGetLoad(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	level := s.load
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, LoadChange{Level: level})
}

// handleSetLoad changes the simulated load and tells every open page, so
// that their sliders move together.
func (s *server) handleSetLoad(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Level int `json:"level"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil || in.Level < 1 || in.Level > 10 {
		writeJSON(w, http.StatusBadRequest, sse.ErrorBody{Error: `body must be JSON {"level": 1 to 10}`})
		return
	}
	s.mu.Lock()
	s.load = in.Level
	s.mu.Unlock()
	ch := LoadChange{Level: in.Level, ChangedAt: time.Now().UTC()}
	if _, err := s.app.Publish(r.Context(), topicControl, eventLoad, ch); err != nil {
		ssevents.WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
