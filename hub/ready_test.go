package hub_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// lockedLog collects log output safely across goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// New does not say the hub is ready: only LogReady does, with the URL the
// program serves it on (and the demo page's unless it is off).
func TestHub_logReady(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		noDemo     bool
		want, lack string
	}{
		{"with demo", false, `msg="hub ready" url=https://localhost:8443 demo=https://localhost:8443/ path=/events jwt=false`, ""},
		{"without demo", true, `msg="hub ready" url=https://localhost:8443 path=/events`, "demo="},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log lockedLog
			h, err := hub.New(hub.Config{Config: ssevents.Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, DisableDemo: tt.noDemo})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if strings.Contains(log.String(), "hub ready") {
				t.Fatalf("New logged %q before the hub was served", log.String())
			}
			h.LogReady(context.Background(), "https://localhost:8443")
			got := log.String()
			if !strings.Contains(got, tt.want) || (tt.lack != "" && strings.Contains(got, tt.lack)) {
				t.Fatalf("log %q, want %q (and no %q)", got, tt.want, tt.lack)
			}
		})
	}
}
