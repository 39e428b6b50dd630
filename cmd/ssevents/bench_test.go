package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	if !strings.Contains(stderr.String(), "bench: ") || !strings.Contains(stderr.String(), "| p99 ") {
		t.Errorf("no progress line with published, received and p99 on stderr: %q", stderr.String())
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
		{"--presence"},
		{"--users", "3", "--user-secret", "too short"},
		{"--conns", "2", "--big-topic", "2"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runBench(t.Context(), append([]string{"--url", "http://127.0.0.1:1"}, args...), &stdout, &stderr); err == nil {
			t.Errorf("bench %v succeeded, want a bounds error", args)
		}
	}
}

func TestBenchScalingFlags(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, hub.Config{})
	var mu sync.Mutex
	sources := map[string]bool{}
	spied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && r.Method == http.MethodGet {
			mu.Lock()
			sources[host] = true
			mu.Unlock()
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(spied.Close)
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), []string{"--url", srv.URL, "--url", spied.URL, "--conns", "12", "--rate", "0",
		"--max-events", "100", "--publishers", "2", "--source-addrs", "3", "--duration", "20s", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep bench.Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last stdout line is not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.ConnectedPerURL) != 2 || rep.ConnectedPerURL[0] != 6 || rep.ConnectedPerURL[1] != 6 {
		t.Errorf("connected per URL %v, want [6 6]", rep.ConnectedPerURL)
	}
	if rep.Published != 100 || !rep.MaxEventsReached || rep.Publishers != 2 || rep.Received != 1200 {
		t.Errorf("published %d (max reached %v) by %d publishers, received %d; want 100 (true) by 2, 1200",
			rep.Published, rep.MaxEventsReached, rep.Publishers, rep.Received)
	}
	mu.Lock()
	defer mu.Unlock()
	// The spied instance holds streams 1, 3, 5, ... of 12: source index
	// (i / 2) % 3 gives all three addresses.
	if len(sources) != 3 || !sources["127.0.0.2"] || !sources["127.0.0.3"] || !sources["127.0.0.4"] {
		t.Errorf("the hub saw streams from %v, want 127.0.0.2, .3 and .4", sources)
	}
}

func TestSourceAddrsFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"2", "127.0.0.2,127.0.0.3", false},
		{"127.0.0.9, 127.0.0.10", "127.0.0.9,127.0.0.10", false},
		{"0", "", true},
		{"251", "", true},
		{",", "", true},
	} {
		var s sourceAddrs
		err := s.Set(tc.in)
		if (err != nil) != tc.wantErr || !tc.wantErr && s.String() != tc.want {
			t.Errorf("--source-addrs %q = %q, %v; want %q (error %v)", tc.in, s.String(), err, tc.want, tc.wantErr)
		}
	}
}

func TestBenchUsers(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, jwtHub)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(),
		"sse": map[string][]string{"publish": {"*"}, "subscribe": {"*"}}}).SignedString([]byte(jwtHub.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	subs := map[string][]string{} // topic suffix -> the sub of each stream
	spied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/events" {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			claims := jwt.MapClaims{}
			_, _, err := jwt.NewParser().ParseUnverified(tok, claims)
			sub, _ := claims.GetSubject()
			topic := r.URL.Query().Get("topic")
			topic = topic[strings.LastIndex(topic, "-")+1:] // bench-<run>-<suffix>
			mu.Lock()
			subs[topic] = append(subs[topic], fmt.Sprint(sub, err))
			mu.Unlock()
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(spied.Close)
	var stdout, stderr bytes.Buffer
	err = runBench(t.Context(), []string{"--url", spied.URL, "--token", token,
		"--conns", "9", "--topics", "2", "--big-topic", "3", "--users", "4", "--user-secret", jwtHub.JWTSecret,
		"--presence", "--rate", "20", "--duration", "1s", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	// Streams 0-5 on topics 0 and 1 (3 each), each event delivered to 3;
	// streams 6-8 on the big topic, which gets none.
	if rep.Connected != 9 || rep.Received == 0 || rep.Lost != 0 || rep.Expected != uint64(rep.Published)*3 {
		t.Errorf("connected %d, received %d of %d for %d events, lost %d; want 9, 3 deliveries an event, none lost",
			rep.Connected, rep.Received, rep.Expected, rep.Published, rep.Lost)
	}
	mu.Lock()
	defer mu.Unlock()
	// Stream i is user-<i mod 4>: topic 0 has streams 0, 2, 4; topic 1
	// streams 1, 3, 5; the big topic streams 6, 7, 8.
	for topic, want := range map[string][]string{
		"0":   {"user-0<nil>", "user-0<nil>", "user-2<nil>"},
		"1":   {"user-1<nil>", "user-1<nil>", "user-3<nil>"},
		"big": {"user-0<nil>", "user-2<nil>", "user-3<nil>"},
	} {
		got := slices.Sorted(slices.Values(subs[topic]))
		if !slices.Equal(got, want) {
			t.Errorf("streams of topic %s came as %v, want %v", topic, got, want)
		}
	}
	// This hub tracks no presence: the run says so and goes on.
	if p := rep.Presence; p == nil || p.Settled || !strings.Contains(p.Note, "SSE_PRESENCE") {
		t.Errorf("presence report %+v, want a note that the hub does not track the topics", p)
	}
}

// TestBenchUserSecretFromEnv is not parallel: it sets SSE_JWT_SECRET.
func TestBenchUserSecretFromEnv(t *testing.T) {
	t.Setenv("SSE_JWT_SECRET", jwtHub.JWTSecret)
	_, srv := startCLITestHub(t, jwtHub)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(),
		"sse": map[string][]string{"publish": {"*"}}}).SignedString([]byte(jwtHub.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	// The run's token may not subscribe: only the users' tokens can.
	err = runBench(t.Context(), []string{"--url", srv.URL, "--token", token, "--conns", "3", "--users", "2",
		"--rate", "10", "--duration", "300ms", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Connected != 3 || rep.Lost != 0 {
		t.Errorf("connected %d, lost %d; want 3 streams with the users' tokens, none lost", rep.Connected, rep.Lost)
	}
}
