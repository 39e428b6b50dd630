package bench

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spy counts what a hub sees: the source addresses of its streams, its
// publishes, and the most publishes in flight at once.
type spy struct {
	mu      sync.Mutex
	sources map[string]int // stream source IP -> streams
	// publishes and inflight, peak: POST /publish requests.
	publishes, inflight, peak atomic.Int64
	// publishDelay slows every publish, so that concurrency shows.
	publishDelay time.Duration
}

func (s *spy) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			s.publishes.Add(1)
			n := s.inflight.Add(1)
			defer s.inflight.Add(-1)
			for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
			}
			time.Sleep(s.publishDelay)
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			s.mu.Lock()
			if s.sources == nil {
				s.sources = map[string]int{}
			}
			s.sources[host]++
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (s *spy) hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hs []string
	for h := range s.sources {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	return hs
}

// startSpiedHubs serves one real hub on n listeners (n instances sharing a
// broker, as far as bench can tell), each behind its own spy.
func startSpiedHubs(t *testing.T, n int, delay time.Duration) ([]string, []*spy) {
	t.Helper()
	h := startHub(t).Config.Handler
	var urls []string
	var spies []*spy
	for range n {
		s := &spy{publishDelay: delay}
		srv := httptest.NewServer(s.wrap(h))
		t.Cleanup(srv.Close)
		urls, spies = append(urls, srv.URL), append(spies, s)
	}
	return urls, spies
}

func TestRunSpreadsOverURLs(t *testing.T) {
	t.Parallel()
	urls, spies := startSpiedHubs(t, 3, 0)
	rep, err := Run(t.Context(), Config{URLs: urls, Conns: 10, Rate: 60, Duration: 500 * time.Millisecond, Topics: 2})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Streams 0..9 round-robin over 3 URLs: 4, 3, 3.
	if !slices.Equal(rep.ConnectedPerURL, []int{4, 3, 3}) || !slices.Equal(rep.URLs, urls) {
		t.Errorf("connected per URL %v over %v, want [4 3 3] over %v", rep.ConnectedPerURL, rep.URLs, urls)
	}
	for i, s := range spies {
		// 30 events round-robin: 10 each.
		if got := s.publishes.Load(); got != 10 {
			t.Errorf("instance %d got %d publishes, want 10", i, got)
		}
	}
	if rep.Received == 0 || rep.Received != rep.Expected || rep.Lost != 0 {
		t.Errorf("received %d of %d (lost %d), want all", rep.Received, rep.Expected, rep.Lost)
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), urls[2]+": 3 open") {
		t.Errorf("text report does not state per-URL counts:\n%s", b.String())
	}
}

func TestRunRateZeroStopsAtMaxEvents(t *testing.T) {
	t.Parallel()
	urls, spies := startSpiedHubs(t, 1, 2*time.Millisecond)
	start := time.Now()
	rep, err := Run(t.Context(), Config{URLs: urls, Conns: 4, Rate: 0, MaxEvents: 300, Publishers: 3, Duration: 20 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("run took %v, want it to stop once 300 events were published", d)
	}
	if rep.Published != 300 || rep.Planned != 300 || !rep.MaxEventsReached || rep.Publishers != 3 {
		t.Errorf("published %d of %d planned, max events reached %v, publishers %d; want 300, 300, true, 3",
			rep.Published, rep.Planned, rep.MaxEventsReached, rep.Publishers)
	}
	if peak := spies[0].peak.Load(); peak != 3 {
		t.Errorf("at most %d publishes in flight, want 3 (--publishers)", peak)
	}
	// 300 events in well under the 20 s duration: the achieved rate.
	if rep.PublishRate < 300/15.0 {
		t.Errorf("publish rate %.1f/s, want the achieved rate, over the time spent publishing", rep.PublishRate)
	}
	if rep.Received != 4*300 || rep.Lost != 0 {
		t.Errorf("received %d (lost %d), want 1200", rep.Received, rep.Lost)
	}
}

func TestRunRateZeroStopsAtDuration(t *testing.T) {
	t.Parallel()
	urls, _ := startSpiedHubs(t, 1, 0)
	rep, err := Run(t.Context(), Config{URLs: urls, Conns: 2, Rate: 0, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Published == 0 || rep.MaxEventsReached || rep.Planned != MaxEvents || rep.Publishers != DefaultPublishers {
		t.Errorf("published %d, max events reached %v, planned %d, publishers %d; want some, false, %d, %d",
			rep.Published, rep.MaxEventsReached, rep.Planned, rep.Publishers, MaxEvents, DefaultPublishers)
	}
	if rep.Received != 2*uint64(rep.Published) {
		t.Errorf("received %d, want %d", rep.Received, 2*rep.Published)
	}
}

func TestRunDialsFromSourceAddrs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		perProcess int
	}{
		{"one worker", 0},
		{"three workers", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			urls, spies := startSpiedHubs(t, 1, 0)
			rep, err := Run(t.Context(), Config{URLs: urls, Conns: 10, Rate: 20, Duration: 200 * time.Millisecond,
				SourceAddrs: SourceAddrs(3), PerProcess: tc.perProcess, Spawn: pipeSpawn})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
			if got := spies[0].hosts(); !slices.Equal(got, want) || !slices.Equal(rep.SourceAddrs, want) {
				t.Errorf("hub saw streams from %v, report says %v; want %v", got, rep.SourceAddrs, want)
			}
			if rep.Connected != 10 {
				t.Errorf("connected %d, want 10", rep.Connected)
			}
		})
	}
}
