package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"

	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/bench"
	"github.com/ssevents/ssevents/sse"
)

func TestBenchSmallRun(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, hub.Config{})
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), []string{"--url", srv.URL, "--conns", "50", "--rate", "50", "--duration", "2s", "--topics", "3", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep bench.Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last stdout line is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Connected != 50 || rep.ConnectFailed != 0 {
		t.Errorf("connected %d, failed %d; want 50, 0", rep.Connected, rep.ConnectFailed)
	}
	if rep.Published < 95 || rep.PublishErrors != 0 {
		t.Errorf("published %d with %d errors, want about 100 and none", rep.Published, rep.PublishErrors)
	}
	// 50 subscriptions over 3 topics: 17, 17 and 16 of them.
	if rep.Expected < uint64(rep.Published)*16 || rep.Lost != 0 || rep.Duplicates != 0 || rep.Received != rep.Expected {
		t.Errorf("expected %d, received %d, lost %d, duplicates %d; want all delivered once", rep.Expected, rep.Received, rep.Lost, rep.Duplicates)
	}
	if rep.LatencyP50Ms <= 0 || rep.LatencyP99Ms < rep.LatencyP50Ms || rep.LatencyP999Ms < rep.LatencyP99Ms {
		t.Errorf("latencies p50 %v p99 %v p99.9 %v are not ordered", rep.LatencyP50Ms, rep.LatencyP99Ms, rep.LatencyP999Ms)
	}
	if !strings.Contains(stderr.String(), "bench: ") {
		t.Errorf("no progress line on stderr: %q", stderr.String())
	}
}

func TestBenchFailsFastWhenRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ssevents.WriteError(w, r, nil, fmt.Errorf("%w: token required", sse.ErrUnauthorized))
	}))
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runBench(t.Context(), []string{"--url", srv.URL, "--conns", "5", "--duration", "1s"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bench against a hub that refuses = %v, want an error with the 401", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("bench took %v to give up, want it to stop at once", d)
	}
}

func TestBenchRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://10.1.2.3:8000", "http://[2001:db8::1]:8000", "http://192.168.0.1"} {
		var stdout, stderr bytes.Buffer
		err := runBench(t.Context(), []string{"--url", u, "--conns", "1", "--duration", "1s"}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("bench --url %s = %v, want a refusal naming loopback", u, err)
		}
	}
}

func TestBenchBounds(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--conns", "0"},
		{"--rate", "-1"},
		{"--publishers", "1001"},
		{"--max-events", "2000000"},
		{"--source-addrs", "0"},
		{"--source-addrs", "10.0.0.1"},
		{"--source-addrs", "127.0.0.2,::1"},
		{"--duration", "11m"},
		{"--conns", "2", "--topics", "3"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runBench(t.Context(), append([]string{"--url", "http://127.0.0.1:1"}, args...), &stdout, &stderr); err == nil {
			t.Errorf("bench %v succeeded, want a bounds error", args)
		}
	}
}
