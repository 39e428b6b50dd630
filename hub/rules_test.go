package hub_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// newHub returns a hub for cfg (its logger discarded), closed when the
// test ends.
func newHub(t *testing.T, cfg hub.Config) *hub.Hub {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// signedToken signs a token with testSecret for claims, expiring after ttl
// (negative: expired that long ago).
func signedToken(t *testing.T, claims hub.TopicClaims, ttl time.Duration) string {
	t.Helper()
	c := hub.Claims{SSE: claims}
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(ttl))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serve sends req to h from remoteAddr and returns the recorded answer.
// Only requests that end on their own (no open stream) may be served so.
func serve(t *testing.T, h http.Handler, req *http.Request, remoteAddr string) *httptest.ResponseRecorder {
	t.Helper()
	req.RemoteAddr = remoteAddr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// wantAnswer checks the status of w and that its JSON error (when the
// status is not 200) contains want.
func wantAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if status == http.StatusOK {
		return
	}
	var body sse.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body, err)
	}
	if !strings.Contains(body.Error, want) {
		t.Fatalf("error %q does not say %q", body.Error, want)
	}
}

// publishRequest is a POST /publish of one event to topic "a".
func publishRequest(header http.Header) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader(`{"topic": "a", "event": "e", "data": 1}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

// subscribe opens GET url on a server for h and returns the answer: its
// headers, and the stream in its body when the status is 200. The body is
// closed when the test ends.
func subscribe(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wantRefusal checks that resp has status and a JSON error containing want.
func wantRefusal(t *testing.T, resp *http.Response, status int, want string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	var body sse.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	if !strings.Contains(body.Error, want) {
		t.Fatalf("error %q does not say %q", body.Error, want)
	}
}

// TestExpiredTokens checks that a token past its exp is refused, to
// publish and to subscribe, while the same token unexpired is accepted.
func TestExpiredTokens(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{JWTSecret: testSecret})
	all := hub.TopicClaims{Publish: []string{"*"}, Subscribe: []string{"*"}}
	for _, tc := range []struct {
		name   string
		ttl    time.Duration
		status int
		want   string
	}{
		{"valid", time.Minute, http.StatusOK, ""},
		{"expired a minute ago", -time.Minute, http.StatusUnauthorized, "expired"},
		{"expired a second ago", -time.Second, http.StatusUnauthorized, "expired"},
	} {
		t.Run("publish/"+tc.name, func(t *testing.T) {
			t.Parallel()
			req := publishRequest(http.Header{"Authorization": {"Bearer " + signedToken(t, all, tc.ttl)}})
			w := serve(t, h, req, "203.0.113.9:4000")
			wantAnswer(t, w, tc.status, tc.want)
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", w.Header().Get("WWW-Authenticate"))
			}
		})
		t.Run("subscribe/"+tc.name, func(t *testing.T) {
			t.Parallel()
			resp := subscribe(t, h, "/events?topic=a&"+hub.TokenQueryParam+"="+signedToken(t, all, tc.ttl))
			if tc.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				return
			}
			wantRefusal(t, resp, tc.status, tc.want)
		})
	}
}

// TestLoopbackOnlyPublish checks that without a JWT key a publish is
// accepted straight from loopback only: not from another address, not
// through a proxy on this host, not from another site's page.
func TestLoopbackOnlyPublish(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{})
	for _, tc := range []struct {
		name   string
		remote string
		header http.Header
		status int
		want   string
	}{
		{"IPv4 loopback", "127.0.0.1:5000", nil, http.StatusOK, ""},
		{"IPv6 loopback", "[::1]:5000", nil, http.StatusOK, ""},
		{"a localhost page", "127.0.0.1:5000", http.Header{"Origin": {"http://localhost:3000"}}, http.StatusOK, ""},
		{"another host", "203.0.113.9:5000", nil, http.StatusForbidden, "only from loopback"},
		{"a private address", "10.0.0.7:5000", nil, http.StatusForbidden, "only from loopback"},
		{"through a proxy", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, http.StatusForbidden, "only from loopback"},
		{"forwarded", "127.0.0.1:5000", http.Header{"Forwarded": {"for=203.0.113.9"}}, http.StatusForbidden, "only from loopback"},
		{"real ip", "127.0.0.1:5000", http.Header{"X-Real-Ip": {"203.0.113.9"}}, http.StatusForbidden, "only from loopback"},
		{"a page of another site", "127.0.0.1:5000", http.Header{"Origin": {"http://rebound.example"}}, http.StatusForbidden, "only from a localhost page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantAnswer(t, serve(t, h, publishRequest(tc.header), tc.remote), tc.status, tc.want)
		})
	}
}

// TestWebhookTimeout checks that a webhook slower than AuthorizeTimeout
// denies the subscribe, while the same webhook answering in time allows.
func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		delay  time.Duration
		status int
	}{
		{"in time", 0, http.StatusOK},
		{"too slow", 2 * time.Second, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(tc.delay):
				case <-r.Context().Done():
				}
				_, _ = io.WriteString(w, `{"allow": true}`) // allow everything
			}))
			t.Cleanup(app.Close)
			h := newHub(t, hub.Config{
				AuthorizeURL:      app.URL,
				AuthorizeTimeout:  200 * time.Millisecond,
				AuthorizeCacheTTL: -1,
			})
			start := time.Now()
			resp := subscribe(t, h, "/events?topic=a")
			if took := time.Since(start); took > tc.delay/2+time.Second {
				t.Errorf("the answer took %v: the webhook call was not cut at the timeout", took)
			}
			if tc.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				return
			}
			wantRefusal(t, resp, tc.status, "the authorization service did not answer")
		})
	}
}
