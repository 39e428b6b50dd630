package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// subjectToken signs a token for subject sub that may publish anywhere.
func subjectToken(t *testing.T, sub string) string {
	t.Helper()
	c := hub.Claims{SSE: hub.TopicClaims{Publish: []string{"*"}}}
	c.Subject = sub
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rateLimited returns the value of sse_rate_limited_total{limit=limit}
// that h exposes.
func rateLimited(t *testing.T, h http.Handler, limit string) string {
	t.Helper()
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil), "127.0.0.1:1")
	prefix := fmt.Sprintf("sse_rate_limited_total{limit=%q} ", limit)
	for line := range strings.Lines(w.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return v
		}
	}
	t.Fatalf("no %s in the metrics", prefix)
	return ""
}

// publishStep is one publish of a sequence, after a pause.
type publishStep struct {
	name   string
	token  string // "" for none
	remote string
	pause  time.Duration
	status int
	want   string // in the error of a 429
}

// TestPublishRate publishes in sequences (in a synctest bubble, so the
// clock moves only with the pauses) and checks which are refused: per
// token subject with a token, per client address without one, none with
// rate 0; each 429 with Retry-After and a JSON error naming the limit, and
// counted.
func TestPublishRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     hub.Config
		steps   func(t *testing.T) []publishStep
		refused string
	}{
		{"per token subject", hub.Config{JWTSecret: testSecret, PublishRate: 2}, func(t *testing.T) []publishStep {
			alice, bob := subjectToken(t, "alice"), subjectToken(t, "bob")
			return []publishStep{
				{"alice", alice, "203.0.113.1:1", 0, http.StatusOK, ""},
				{"alice's burst", alice, "203.0.113.2:1", 0, http.StatusOK, ""},
				{"alice over, from a third address", alice, "203.0.113.3:1", 0, http.StatusTooManyRequests, "SSE_PUBLISH_RATE) of 2 per second per token subject"},
				{"bob has his own bucket", bob, "203.0.113.1:1", 0, http.StatusOK, ""},
				{"alice after half a second", alice, "203.0.113.1:1", 500 * time.Millisecond, http.StatusOK, ""},
				{"alice over again", alice, "203.0.113.1:1", 0, http.StatusTooManyRequests, "SSE_PUBLISH_RATE"},
				{"alice a second later", alice, "203.0.113.1:1", time.Second, http.StatusOK, ""},
			}
		}, "2"},
		{"per client address without a token", hub.Config{PublishRate: 1}, func(*testing.T) []publishStep {
			return []publishStep{
				{"IPv4 loopback", "", "127.0.0.1:1", 0, http.StatusOK, ""},
				{"IPv4 loopback over, another port", "", "127.0.0.1:2", 0, http.StatusTooManyRequests, "per client address"},
				{"IPv6 loopback has its own bucket", "", "[::1]:1", 0, http.StatusOK, ""},
				{"IPv4 loopback a second later", "", "127.0.0.1:1", time.Second, http.StatusOK, ""},
			}
		}, "1"},
		{"no limit by default", hub.Config{}, func(*testing.T) []publishStep {
			steps := make([]publishStep, 50)
			for i := range steps {
				steps[i] = publishStep{fmt.Sprint("publish ", i), "", "127.0.0.1:1", 0, http.StatusOK, ""}
			}
			return steps
		}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHub(t, tc.cfg)
				for _, s := range tc.steps(t) {
					time.Sleep(s.pause)
					var header http.Header
					if s.token != "" {
						header = http.Header{"Authorization": {"Bearer " + s.token}}
					}
					w := serve(t, h, publishRequest(header), s.remote)
					if w.Code != s.status {
						t.Fatalf("%s: status %d, want %d; body %s", s.name, w.Code, s.status, w.Body)
					}
					if s.status == http.StatusTooManyRequests {
						wantAnswer(t, w, s.status, s.want)
						if ra := w.Header().Get("Retry-After"); ra != "1" {
							t.Errorf("%s: Retry-After %q, want 1", s.name, ra)
						}
					}
				}
				if got := rateLimited(t, h, "publish"); got != tc.refused {
					t.Errorf("sse_rate_limited_total{limit=\"publish\"} %s, want %s", got, tc.refused)
				}
			})
		})
	}
}

// openStream opens GET /events?topic=a on srv with header; the stream
// ends when close is called or the test ends.
func openStream(t *testing.T, srv *httptest.Server, header http.Header) (resp *http.Response, close func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?topic=a", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if resp, err = srv.Client().Do(req); err != nil {
		cancel()
		t.Fatal(err)
	}
	close = func() { cancel(); resp.Body.Close() }
	t.Cleanup(close)
	return resp, close
}

// wantStream opens a stream and checks it was accepted.
func wantStream(t *testing.T, srv *httptest.Server, header http.Header) func() {
	t.Helper()
	resp, close := openStream(t, srv, header)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream (%v): status %d, want 200", header, resp.StatusCode)
	}
	return close
}

// wantStreamRefused opens a stream and checks it was refused by the
// per-address limit.
func wantStreamRefused(t *testing.T, srv *httptest.Server, header http.Header) {
	t.Helper()
	resp, _ := openStream(t, srv, header)
	wantRefusal(t, resp, http.StatusTooManyRequests, "streams per client address (SSE_MAX_CONNECTIONS_PER_IP)")
	if ra := resp.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5", ra)
	}
}

// eventuallyStream opens streams until one is accepted: a slot is given
// back once the server has seen a stream's client go.
func eventuallyStream(t *testing.T, srv *httptest.Server) func() {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, close := openStream(t, srv, nil)
		if resp.StatusCode == http.StatusOK {
			return close
		}
		close()
		if time.Now().After(deadline) {
			t.Fatalf("status %d 10 s after streams ended: their slots were not given back", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMaxConnectionsPerIP opens streams from one address past the limit,
// over both of the core's stream paths (a taken-over connection and the
// ResponseWriter), and checks that a 429 refuses the extra one and that
// closed streams give their slots back.
func TestMaxConnectionsPerIP(t *testing.T) {
	t.Parallel()
	for _, disableHijack := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableHijack=%v", disableHijack), func(t *testing.T) {
			t.Parallel()
			srv := startHub(t, hub.Config{Config: ssevents.Config{DisableHijack: disableHijack}, MaxConnectionsPerIP: 2})
			first := wantStream(t, srv, nil)
			second := wantStream(t, srv, nil)
			wantStreamRefused(t, srv, nil)
			first()
			third := eventuallyStream(t, srv)
			wantStreamRefused(t, srv, nil)
			second()
			third()
			eventuallyStream(t, srv)
			eventuallyStream(t, srv) // both slots are free again: nothing leaked
			wantStreamRefused(t, srv, nil)
			if got := rateLimited(t, srv.Config.Handler, "connections_per_ip"); got == "0" {
				t.Errorf("sse_rate_limited_total{limit=\"connections_per_ip\"} %s after refusals", got)
			}
		})
	}
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMaxConnectionsPerIP_clientAddress checks that streams are counted
// per resolved client address: through a trusted proxy each forwarded
// client has its own slots, while an untrusted client's made-up
// X-Forwarded-For gets it none; the refusal is logged with the client.
func TestMaxConnectionsPerIP_clientAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []string
		second  int // status of the second client's stream
		logged  string
	}{
		{"trusted proxy", []string{"127.0.0.1"}, http.StatusOK, `"client":"203.0.113.1"`},
		{"no trusted proxy", nil, http.StatusTooManyRequests, `"client":"127.0.0.1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			h, err := hub.New(hub.Config{
				Config:         ssevents.Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
				TrustedProxies: tc.trusted, MaxConnectionsPerIP: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(func() { h.Close(); srv.Close() })
			wantStream(t, srv, xff("203.0.113.1"))
			if tc.second == http.StatusOK {
				wantStream(t, srv, xff("203.0.113.2"))
			} else {
				wantStreamRefused(t, srv, xff("203.0.113.2"))
			}
			wantStreamRefused(t, srv, xff("203.0.113.1"))
			if !strings.Contains(logs.String(), tc.logged) || !strings.Contains(logs.String(), `"limit":"connections_per_ip"`) {
				t.Errorf("logs do not name the limit and %s:\n%s", tc.logged, logs.String())
			}
		})
	}
}

// TestRateLimiter_bounded feeds the publish limiter a new key after
// another, a thousand a second for half a minute, and checks that it keeps
// about the keys of the last second, not all of them, without forgetting
// a busy key; and that a flood of busy keys cannot grow it past its cap.
func TestRateLimiter_bounded(t *testing.T) {
	t.Parallel()
	l := hub.NewRateLimiter(1)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for s := range 30 {
		now := start.Add(time.Duration(s) * time.Second)
		if l.Reserve("busy", now) != 0 {
			t.Fatalf("second %d: the busy key's one publish a second was refused", s)
		}
		for i := range 1000 {
			if d := l.Reserve(fmt.Sprintf("key-%d-%d", s, i), now); d != 0 {
				t.Fatalf("a new key waits %v", d)
			}
		}
		if d := l.Reserve("busy", now); d <= 0 {
			t.Fatalf("second %d: the busy key's second publish within a second was allowed: its bucket was dropped", s)
		}
		if n := l.Keys(); n > 5000 {
			t.Fatalf("second %d: %d keys kept, want those of about the last second", s, n)
		}
	}
	flood := hub.NewRateLimiter(1)
	for i := range hub.MaxRateKeys + 1000 {
		flood.Reserve(fmt.Sprint(i), start)
	}
	if n := flood.Keys(); n > hub.MaxRateKeys {
		t.Errorf("%d keys kept, want at most %d", n, hub.MaxRateKeys)
	}
}

// TestLimits_invalid checks that the limits refuse negative values.
func TestLimits_invalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  hub.Config
		want string
	}{
		{hub.Config{PublishRate: -1}, "PublishRate is -1"},
		{hub.Config{MaxConnectionsPerIP: -1}, "MaxConnectionsPerIP is -1"},
	} {
		h, err := hub.New(tc.cfg)
		if err == nil {
			h.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one saying %q", err, tc.want)
		}
	}
}
