package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/hub"
)

// startHub serves the real hub (anonymous subscribing, publishing from
// loopback), as "ssevents serve" would.
func startHub(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := hub.New(hub.Config{Config: ssevents.Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	return srv
}

// pipeSpawn runs workers as goroutines speaking the worker protocol over
// pipes, as worker processes would over stdin and stdout.
func pipeSpawn(ctx context.Context, index int) (io.WriteCloser, io.Reader, func() error, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := ServeWorker(ctx, inR, outW)
		_ = outW.Close()
		_, _ = io.Copy(io.Discard, inR) // until the parent closes stdin
		done <- err
	}()
	return inW, outR, func() error { return <-done }, nil
}

func TestRunAcrossWorkers(t *testing.T) {
	t.Parallel()
	srv := startHub(t)
	rep, err := Run(t.Context(), Config{
		URL: srv.URL, Conns: 50, Rate: 100, Duration: time.Second, Topics: 4,
		PerProcess: 20, Spawn: pipeSpawn,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Workers != 3 || rep.Connected != 50 {
		t.Errorf("%d workers, %d connected; want 3 workers (20+20+10) and 50", rep.Workers, rep.Connected)
	}
	if rep.Received == 0 || rep.Received != rep.Expected || rep.Lost != 0 || rep.Duplicates != 0 {
		t.Errorf("received %d of %d expected (lost %d, duplicates %d), want all once", rep.Received, rep.Expected, rep.Lost, rep.Duplicates)
	}
	if rep.Published > 0 && (rep.PublishP50Ms <= 0 || rep.PublishP99Ms < rep.PublishP50Ms) {
		t.Errorf("publish answer latency p50 %.3f ms, p99 %.3f ms: want measured, p99 >= p50", rep.PublishP50Ms, rep.PublishP99Ms)
	}
	// 100 events over 4 topics of 13, 13, 12 and 12 subscriptions.
	if want := uint64(25 * (13 + 13 + 12 + 12)); rep.Published == 100 && rep.Expected != want {
		t.Errorf("expected %d deliveries, want %d", rep.Expected, want)
	}
}

func TestSubscriptionCountsDuplicates(t *testing.T) {
	t.Parallel()
	w := &Worker{}
	s := &benchSub{w: w}
	now := time.Now()
	for _, seq := range []uint64{1, 2, 4, 3, 3, 2, 100, 40, 70, 200, 100, 1000, 5, 1030, 5, 3000, 1500, 1029} {
		_ = s.handle(client.Event{Data: payload(seq, now)})
	}
	// Unique: 1 2 4 3 100 40 70 200 1000 5 1030 3000 = 12 (40 and 70 are
	// within the window below 100, 5 within the window of 1024 below
	// 1000); again: 3, 2, 100, 5 (now 1025 below 1030: too far to tell),
	// 1500 and 1029 (too far below 3000).
	if r, d := w.received.Load(), w.duplicates.Load(); r != 12 || d != 6 {
		t.Errorf("received %d, duplicates %d; want 12, 6", r, d)
	}
	if _, _, ok := parsePayload([]byte(`{"other":1}`)); ok {
		t.Error("parsePayload accepted foreign data")
	}
}

func TestReportSettlesUnansweredPublishes(t *testing.T) {
	t.Parallel()
	p := newPublishing(Config{URL: "http://127.0.0.1:1", Rate: 4, Duration: time.Second}, []string{"a", "b"})
	// Events 0..3: a, b, a, b. 0 accepted; 1 unanswered but delivered;
	// 2 unanswered and never seen; 3 refused.
	p.status[0].Store(sentOK)
	p.status[1].Store(unknown)
	p.status[2].Store(unknown)
	p.status[3].Store(refused)
	results := []WorkerResult{
		{Progress: Progress{Connected: 2, Received: 3}, ConnectedPerTopic: []int{1, 1}, Delivered: []uint32{1, 1, 0, 0}},
		{Progress: Progress{Connected: 1, Received: 0}, ConnectedPerTopic: []int{1, 0}, Delivered: []uint32{0, 0, 0, 0}},
	}
	r := &Report{Topics: 2}
	r.fill(results, p, time.Second)
	// Published: 0 (to a: 2 subscriptions) and 1 (to b: 1 subscription).
	if r.Published != 2 || r.PublishErrors != 2 || r.Expected != 3 || r.Lost != 1 || r.Connected != 3 {
		t.Errorf("published %d, errors %d, expected %d, lost %d, connected %d; want 2, 2, 3, 1, 3",
			r.Published, r.PublishErrors, r.Expected, r.Lost, r.Connected)
	}
}

// TestProgressCountsAddUp: deliveries can arrive before their publish is
// answered, so the deliveries due count every event sent and not refused,
// in flight included: received never exceeds due.
func TestProgressCountsAddUp(t *testing.T) {
	t.Parallel()
	p := newPublishing(Config{URL: "http://127.0.0.1:1", Rate: 10, Duration: time.Second, Conns: 3}, []string{"a"})
	// 5 sent: 2 accepted, 1 refused, 2 still in flight (delivered already).
	p.sent.Store(5)
	p.sentTo[0].Store(5)
	p.refusedBy[0].Store(1)
	l := &progressLine{conns: 3}
	s := l.format("publish", Progress{Connected: 3, Received: 12}, p)
	if !strings.Contains(s, "received 12 of 12 due") {
		t.Errorf("progress line %q, want received 12 of 12 due (4 events not refused x 3 subscriptions)", s)
	}
}

// TestReportSaysWhyFewerWereSent: published, errors and not sent add up to
// the planned events, and the text says why some were not sent.
func TestReportSaysWhyFewerWereSent(t *testing.T) {
	t.Parallel()
	p := newPublishing(Config{URL: "http://127.0.0.1:1", Rate: 4, Duration: time.Second, Publishers: 2}, []string{"a"})
	p.start = time.Now().Add(-2 * time.Second)
	p.end = p.start.Add(time.Second + 100*time.Millisecond)
	p.status[0].Store(sentOK)
	p.status[1].Store(sentOK)
	p.status[2].Store(refused) // 3: never sent
	r := &Report{Topics: 1, Rate: 4}
	r.fill([]WorkerResult{{ConnectedPerTopic: []int{1}, Delivered: []uint32{1, 1, 0, 0}}}, p, time.Second)
	if r.Published+r.PublishErrors+r.NotSent != int64(r.Planned) || r.NotSent != 1 {
		t.Errorf("published %d + errors %d + not sent %d, planned %d; want them to add up, 1 not sent", r.Published, r.PublishErrors, r.NotSent, r.Planned)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"published    2 of 4 planned (1 errors, 1 not sent)", "not sent     1: when --duration ended they were still waiting for one of the 2 publishers", "raise --publishers or lower --rate"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	p.end = p.start.Add(300 * time.Millisecond)
	if got := p.notSentReason(1); !strings.Contains(got, "interrupted") {
		t.Errorf("reason after an interrupted run = %q", got)
	}
}
