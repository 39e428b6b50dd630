package faults_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/check"
	"github.com/ssevents/ssevents/internal/redistest"
)

// longFaults runs the checker scenarios with their long fault durations,
// by hand: go test -race -run TestDeliveryUnderFaults -faults.long.
var longFaults = flag.Bool("faults.long", false, "run the delivery scenarios with long faults (by hand, not in CI)")

// span returns short, or long under -faults.long.
func span(short, long time.Duration) time.Duration {
	if *longFaults {
		return long
	}
	return short
}

// The checker's load in every scenario: ~20 streams of two topics each
// over 4 topics, spread over the two hubs, 50 publishes a second. Enough
// that every topic sees a dozen events a second, little enough for two
// cores under -race.
const (
	checkStreams = 20
	checkTopics  = 4
	checkRate    = 50
	// checkPublishers is how many publishes may be in flight: during an
	// outage that many wait, and are sent into Redis's input buffers.
	checkPublishers = 16
	// historySize is the hubs' per-topic history, and what the checker
	// judges resyncs by: larger than a scenario publishes on one topic, so
	// a resync is never owed to a history too short, only to lost data.
	historySize = 2000
	// checkDrain is the longest wait for deliveries after the last publish
	// answer; a run that delivered everything ends sooner.
	checkDrain = 15 * time.Second
)

// testHub is one in-process hub served on a loopback test server.
type testHub struct {
	URL string
	hub *hub.Hub
}

// snapshot returns the hub's metrics.
func (h *testHub) snapshot() ssevents.Snapshot { return h.hub.App().Metrics().Snapshot() }

// startHubs starts one hub per broker URL, each with its own Redis broker,
// logging into logs. Cleanup closes each hub (ending its streams), then its
// server.
func startHubs(t *testing.T, logs *testLog, brokerURLs ...string) []*testHub {
	t.Helper()
	var hubs []*testHub
	for i, u := range brokerURLs {
		h, err := hub.New(hub.Config{Config: ssevents.Config{
			BrokerURL: u, Retry: 50 * time.Millisecond, HistorySize: historySize,
			Logger: logs.logger(slog.LevelInfo).With("hub", i+1),
		}})
		if err != nil {
			t.Fatalf("hub %d on %s: %v", i+1, u, err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(func() { _ = h.Close() })
		hubs = append(hubs, &testHub{URL: srv.URL, hub: h})
	}
	return hubs
}

// faultRun is a checker run in progress, as a scenario's fault sees it.
type faultRun struct {
	t     *testing.T
	id    string    // the checker's run id: its topics are check-<id>-<i>
	start time.Time // when publishing started
}

// at waits until d after publishing started.
func (r *faultRun) at(d time.Duration) { time.Sleep(time.Until(r.start.Add(d))) }

// topic returns the checker's topic i.
func (r *faultRun) topic(i int) string { return fmt.Sprintf("check-%s-%d", r.id, i) }

// logf logs what the fault does, with the time since publishing started.
func (r *faultRun) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf("%6.2fs "+format, append([]any{time.Since(r.start).Seconds()}, args...)...)
}

// runChecker runs the checker against hubs, publishing for publish, and
// calls fault on the test goroutine as soon as publishing has started
// (fault waits with faultRun.at for its moment). It fails the test unless
// the run kept the promise (check.Report.OK) with every stream connected
// and some events acknowledged, and returns the report for the scenario
// to check that its fault really hit.
func runChecker(t *testing.T, logs *testLog, hubs []*testHub, publish time.Duration, fault func(r *faultRun)) check.Report {
	t.Helper()
	var urls []string
	for _, h := range hubs {
		urls = append(urls, h.URL)
	}
	started := make(chan string, 1)
	cfg := check.Config{
		URLs: urls, Streams: checkStreams, Topics: checkTopics, Rate: checkRate,
		Duration: publish, Drain: checkDrain, HistorySize: historySize, Publishers: checkPublishers,
		Logger: slog.New(&publishingHandler{Handler: logs.handler(slog.LevelInfo), started: started}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), publish+checkDrain+time.Minute)
	type result struct {
		rep check.Report
		err error
	}
	done := make(chan result, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		rep, err := check.Run(ctx, cfg)
		done <- result{rep, err}
	})
	// Should the fault fail the test, the run is stopped before the hubs
	// and Redis (cleaned up after this) go away.
	t.Cleanup(func() { cancel(); wg.Wait() })

	var res result
	select {
	case id := <-started:
		r := &faultRun{t: t, id: id, start: time.Now()}
		fault(r)
		r.logf("fault over; waiting for the run to end")
		res = <-done
	case res = <-done:
		t.Fatalf("the run ended before it published: %v", res.err)
	}
	if res.err != nil {
		t.Fatalf("check.Run: %v\n%s", res.err, res.rep)
	}
	rep := res.rep
	t.Logf("run %s, checker report:\n%s", rep.RunID, rep)
	for i, h := range hubs {
		s := h.snapshot()
		t.Logf("hub %d: broker errors %d, reconnects %d; publish errors %d; resyncs sent %d, replayed %d, dropped %d",
			i+1, s.Broker.Errors, s.Broker.Reconnects, s.Messages.PublishErrors, s.Messages.Resyncs, s.Messages.Replayed, s.Messages.Dropped)
	}
	if !rep.OK() {
		t.Errorf("delivery promise broken: %s", rep.Violations())
	}
	if rep.StreamsOpened != checkStreams || rep.Acked == 0 {
		t.Errorf("%d of %d streams opened, %d publishes acknowledged: the run proves nothing", rep.StreamsOpened, checkStreams, rep.Acked)
	}
	return rep
}

// publishingHandler passes the checker's logs on and reports the run id
// on started when the checker logs that it starts publishing.
type publishingHandler struct {
	slog.Handler
	started chan<- string
}

// Handle implements slog.Handler.
func (h *publishingHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == "check: publishing" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "run" {
				select {
				case h.started <- a.Value.String():
				default:
				}
				return false
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, rec)
}

// testLog collects the logs of the hubs and the checker of one test, and
// prints them when the test fails. It never logs through t itself, so a
// goroutine that outlives the test cannot make it panic.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// maxLogDump bounds the log printed on failure to its tail.
const maxLogDump = 64 << 10

// newTestLog returns a testLog whose content is printed if t fails.
// Create it first, so that it is printed after everything else stopped.
func newTestLog(t *testing.T) *testLog {
	t.Helper()
	l := &testLog{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		out := l.buf.String()
		if len(out) > maxLogDump {
			out = "...\n" + out[len(out)-maxLogDump:]
		}
		t.Logf("logs of the hubs and the checker:\n%s", out)
	})
	return l
}

// Write implements io.Writer, for slog.
func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) handler(level slog.Level) slog.Handler {
	return slog.NewTextHandler(l, &slog.HandlerOptions{Level: level})
}

func (l *testLog) logger(level slog.Level) *slog.Logger { return slog.New(l.handler(level)) }

// sumHubs adds up one metric over the hubs.
func sumHubs(hubs []*testHub, metric func(ssevents.Snapshot) int64) int64 {
	var n int64
	for _, h := range hubs {
		n += metric(h.snapshot())
	}
	return n
}

// brokerReconnects is the Snapshot's broker reconnects, for sumHubs.
func brokerReconnects(s ssevents.Snapshot) int64 { return s.Broker.Reconnects }

// publishErrors is the Snapshot's publish errors, for sumHubs.
func publishErrors(s ssevents.Snapshot) int64 { return s.Messages.PublishErrors }

// clientKill runs CLIENT KILL TYPE typ on the server at do and returns
// how many connections it closed.
func clientKill(t *testing.T, do func(...string) string, typ string) int {
	t.Helper()
	out := strings.TrimSpace(do("CLIENT", "KILL", "TYPE", typ))
	var n int
	if _, err := fmt.Sscan(out, &n); err != nil {
		t.Fatalf("CLIENT KILL TYPE %s: %q", typ, out)
	}
	return n
}

// errorCount returns how many error replies of kind (the error's first
// word, e.g. "LATE") srv has sent, from INFO errorstats.
func errorCount(t *testing.T, srv *redistest.Server, kind string) int {
	t.Helper()
	for _, line := range strings.Split(srv.MustDo("INFO", "errorstats"), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "errorstat_"+kind+":count=")
		if ok {
			n, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("INFO errorstats: %q", line)
			}
			return n
		}
	}
	return 0
}
