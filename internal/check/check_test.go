package check_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/check"
	"github.com/ssevents/ssevents/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// newHubURLs serves one real hub on n loopback test servers and returns
// their URLs. Cleanup closes the hub first, so that streams end.
func newHubURLs(t *testing.T, n int) []string {
	t.Helper()
	h, err := hub.New(hub.Config{Config: ssevents.Config{Retry: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for range n {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	t.Cleanup(func() { _ = h.Close() })
	return urls
}

// runCheck runs the checker with a bound on the whole run.
func runCheck(t *testing.T, cfg check.Config) check.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := check.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, rep)
	}
	t.Logf("report:\n%s", rep)
	return rep
}

func TestRunCleanHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		urls         int
		streams      int
		topics       int
		wantExpected int // deliveries owed by 100 publishes
	}{
		// Stream i follows topics i%3 and (i+1)%3: topics 0 and 1 have
		// three streams, topic 2 two; they get 34, 33 and 33 events.
		{"multi-topic streams", 1, 4, 3, 34*3 + 33*3 + 33*2},
		{"one topic over two URLs", 2, 3, 1, 100 * 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := runCheck(t, check.Config{URLs: newHubURLs(t, tt.urls), Streams: tt.streams, Topics: tt.topics,
				Rate: 100, Duration: time.Second, Drain: 5 * time.Second})
			if !rep.OK() || rep.Resyncs != 0 {
				t.Errorf("violations %q, %d resyncs; want none on a healthy hub", rep.Violations(), rep.Resyncs)
			}
			if rep.Published != 100 || rep.Acked != 100 || rep.Failed != 0 || rep.Retries != 0 {
				t.Errorf("published %d, acked %d, failed %d, retries %d; want 100, 100, 0, 0", rep.Published, rep.Acked, rep.Failed, rep.Retries)
			}
			if rep.Expected != tt.wantExpected || rep.Deliveries != rep.Expected {
				t.Errorf("expected %d deliveries (want %d), got %d", rep.Expected, tt.wantExpected, rep.Deliveries)
			}
			if rep.StreamsOpened != tt.streams || rep.PublishP99Ms <= 0 || rep.DeliveryP99Ms < rep.DeliveryP50Ms {
				t.Errorf("opened %d of %d, publish p99 %v, delivery p50 %v p99 %v", rep.StreamsOpened, tt.streams, rep.PublishP99Ms, rep.DeliveryP50Ms, rep.DeliveryP99Ms)
			}
		})
	}
}

func TestRunDetectsViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode string
		cfg  check.Config // history bounds; the rest is set below
		want check.Report // the invariant counts expected; others 0
	}{
		{honest, check.Config{}, check.Report{}},
		{duplicate, check.Config{}, check.Report{Duplicate: 1}},
		{drop, check.Config{}, check.Report{Lost: 1}},
		{phantom, check.Config{}, check.Report{Phantom: 1}},
		// A publish of unknown outcome (504), delivered once: allowed.
		{unknown, check.Config{}, check.Report{}},
		{reorder, check.Config{}, check.Report{Reordered: 1}},
		// A resync in the middle of a stream, without a reason.
		{dropSync, check.Config{}, check.Report{Resyncs: 1}},
		{gapSync, check.Config{}, check.Report{Lost: 1, Resyncs: 1}},
		{unanswered, check.Config{}, check.Report{Resolved: 1}},
		// The event replayed on the new connection is a duplicate, even
		// though that connection never had it before.
		{replay, check.Config{}, check.Report{Duplicate: 1}},
		// Resyncs at the start of a resumed connection, with a reason that
		// does not hold.
		{lieHistory, check.Config{}, check.Report{Resyncs: 1}},
		{lieEvicted, check.Config{}, check.Report{Resyncs: 1}},
		{lieGenesis, check.Config{}, check.Report{Resyncs: 1}},
		{lieDataset, check.Config{}, check.Report{Resyncs: 1}},
		// The same resync is justified by a history size or age it
		// exceeds, and not by ones it does not.
		{justHistory, check.Config{HistorySize: 1}, check.Report{Resyncs: 1, ResyncsJustified: 1}},
		{justHistory, check.Config{HistoryAge: time.Millisecond}, check.Report{Resyncs: 1, ResyncsJustified: 1}},
		{justHistory, check.Config{HistorySize: 4, HistoryAge: time.Minute}, check.Report{Resyncs: 1}}, // 6 publishes: at most 4 follow the resume id
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("mode=%s/size=%d/age=%v", tt.mode, tt.cfg.HistorySize, tt.cfg.HistoryAge), func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.URLs, cfg.Streams, cfg.Topics = []string{newHostileHub(t, tt.mode)}, 1, 1
			// The drain ends as soon as nothing is missing: the modes that
			// end the stream wait for its reconnection.
			cfg.Rate, cfg.Duration, cfg.Drain = 20, 300*time.Millisecond, 3*time.Second
			rep := runCheck(t, cfg)
			got := [6]int{rep.Lost, rep.Phantom, rep.Duplicate, rep.Reordered, rep.Resyncs, rep.ResyncsJustified}
			want := [6]int{tt.want.Lost, tt.want.Phantom, tt.want.Duplicate, tt.want.Reordered, tt.want.Resyncs, tt.want.ResyncsJustified}
			if got != want {
				t.Errorf("lost, phantom, duplicate, reordered, resyncs, justified = %v, want %v", got, want)
			}
			unjustified := tt.want.Resyncs - tt.want.ResyncsJustified
			if rep.OK() != (tt.want.Lost+tt.want.Phantom+tt.want.Duplicate+tt.want.Reordered+unjustified == 0) {
				t.Errorf("OK() = %v with %q", rep.OK(), rep.Violations())
			}
			if (unjustified > 0) != strings.Contains(rep.Violations(), "unjustified resync") || (unjustified > 0) != (len(rep.Examples["resyncs"]) > 0) {
				t.Errorf("violations %q, examples %q: want an unjustified resync exactly when there is one", rep.Violations(), rep.Examples["resyncs"])
			}
			if rep.Published != 6 {
				t.Errorf("published %d, want 6", rep.Published)
			}
			if rep.Resolved != tt.want.Resolved || (tt.mode == unanswered && rep.Acked != 6) {
				t.Errorf("resolved %d and acked %d, want %d resolved and, for %q, all 6 acked", rep.Resolved, rep.Acked, tt.want.Resolved, tt.mode)
			}
			if resumeModes[tt.mode] && rep.Reconnects == 0 {
				t.Errorf("no reconnection: the %s scenario did not happen", tt.mode)
			}
			for _, name := range []string{"lost", "phantom", "duplicate", "reordered"} {
				if n := len(rep.Examples[name]); (n > 0) != strings.Contains(rep.Violations(), name) {
					t.Errorf("%d examples of %s, violations %q: want examples exactly for violations", n, name, rep.Violations())
				}
			}
		})
	}
}

// TestRunFailsEveryFourthReplacedByResync is the hub of issue 16: it drops
// every fourth event of each topic and sends a resync of the topic
// instead. Nothing is lost by the letter (each gap has its resync), but
// no resync is justified, so the run fails.
func TestRunFailsEveryFourthReplacedByResync(t *testing.T) {
	t.Parallel()
	rep := runCheck(t, check.Config{URLs: []string{newHostileHub(t, everyFourth)}, Streams: 4, Topics: 2,
		Rate: 100, Duration: 800 * time.Millisecond, Drain: time.Second})
	// Publishes go round-robin over the two topics, and all 4 streams
	// follow both (a loaded machine may publish a few fewer than 80).
	perStream := (rep.Published+1)/2/4 + rep.Published/2/4
	if rep.Published < 40 || rep.Expected != 4*rep.Published || rep.Resyncs != 4*perStream || rep.Deliveries+rep.Resyncs != rep.Expected {
		t.Errorf("published %d, expected %d, delivered %d, resyncs %d: want a resync for every fourth event of each topic, on each stream",
			rep.Published, rep.Expected, rep.Deliveries, rep.Resyncs)
	}
	if rep.Lost != 0 || rep.ResyncsJustified != 0 || rep.OK() || !strings.Contains(rep.Violations(), fmt.Sprintf("unjustified resync %d", rep.Resyncs)) {
		t.Errorf("lost %d, resyncs %d (justified %d), violations %q: want every resync unjustified and the run failed",
			rep.Lost, rep.Resyncs, rep.ResyncsJustified, rep.Violations())
	}
}

func TestRunFailsWithoutStreams(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	dead := srv.URL
	srv.Close()
	tests := []struct {
		name string
		cfg  check.Config
		is   error
	}{
		{"no URL", check.Config{}, check.ErrInvalidConfig},
		{"bad rate", check.Config{URLs: []string{dead}, Rate: -1}, check.ErrInvalidConfig},
		{"too many topics", check.Config{URLs: []string{dead}, Streams: 1, Topics: 3}, check.ErrInvalidConfig},
		{"nothing listening", check.Config{URLs: []string{dead}, Streams: 2, ConnectTimeout: 300 * time.Millisecond}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := check.Run(t.Context(), tt.cfg)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.HasPrefix(err.Error(), "ssevents: ") {
				t.Errorf("Run = %v, want an ssevents error (is %v)", err, tt.is)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run took %v to fail", d)
			}
		})
	}
}

func TestReportString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rep  check.Report
		want []string
	}{
		{check.Report{}, []string{"lost        0", "phantom     0", "duplicate   0", "reordered   0", "resyncs     0 (justified 0)"}},
		{check.Report{Lost: 2, Resyncs: 3, ResyncsJustified: 1, Published: 5, Acked: 4, Failed: 1, FailedByStatus: map[string]int{"503": 1},
			Examples: map[string][]string{"lost": {"stream 1: event 1-1"}}},
			[]string{"lost        2", "  stream 1: event 1-1", "resyncs     3 (justified 1)", "published   5 acked 4 failed 1 (503: 1) retries 0 resolved 0"}},
	}
	for _, tt := range tests {
		lines := strings.Split(tt.rep.String(), "\n")
		for _, w := range tt.want {
			found := false
			for _, l := range lines {
				found = found || l == w
			}
			if !found {
				t.Errorf("report\n%s\nhas no line %q", tt.rep, w)
			}
		}
	}
}
