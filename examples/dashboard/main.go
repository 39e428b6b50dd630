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
	"flag"
	"net/http"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

func main() {
	interval := flag.Duration("interval", DefaultInterval, "time between samples")
	serve.Main("dashboard", func(sse ssevents.Config) (http.Handler, func() error, error) {
		return newServer(Config{SSE: sse, Interval: *interval})
	})
}
