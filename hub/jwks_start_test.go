package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// hangingJWKS is a JWKS server that holds every request until release,
// then answers with its keys: an identity provider that hangs at start.
type hangingJWKS struct {
	url      string
	arrived  chan struct{} // closed when the first request came in
	released chan struct{} // closed by release
	release  func()
}

func startHangingJWKS(t *testing.T, keys ...signingKey) *hangingJWKS {
	t.Helper()
	s := &hangingJWKS{arrived: make(chan struct{}), released: make(chan struct{})}
	s.release = sync.OnceFunc(func() { close(s.released) })
	arrive := sync.OnceFunc(func() { close(s.arrived) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrive()
		select {
		case <-s.released:
			writeJWKS(w, keys)
		case <-r.Context().Done(): // the hub gave up (its timeout, or Close)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(s.release) // before srv.Close: no request is left held
	s.url = srv.URL
	return s
}

// bearer is an Authorization header carrying tok.
func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// signFor returns an ES256 token of k that may publish and subscribe to
// every topic.
func (k signingKey) signFor(t *testing.T) string {
	t.Helper()
	return k.signClaims(t, hub.TopicClaims{Publish: []string{"*"}, Subscribe: []string{"*"}})
}

// readyStatus returns the status and JSON body of GET /health/ready.
func readyStatus(t *testing.T, h http.Handler) (int, ssevents.Health) {
	t.Helper()
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/health/ready", nil), "127.0.0.1:1")
	var body ssevents.Health
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("/health/ready answered %q, not JSON: %v", w.Body, err)
	}
	return w.Code, body
}

// TestJWKSURL_hangingAtStart starts a hub whose JWKS server hangs: New
// returns without waiting for it; until the first fetch succeeds the hub
// is not ready and a token that needs the JWKS's keys gets a 503 with a
// JSON error (not a 401: the token may be fine), while one signed with the
// secret works; once the server answers, the hub is ready and the JWKS's
// tokens work.
func TestJWKSURL_hangingAtStart(t *testing.T) {
	t.Parallel()
	k := newSigningKey(t, "k1")
	jwks := startHangingJWKS(t, k)
	h := newHub(t, hub.Config{JWTJWKSURL: jwks.url, JWTSecret: testSecret})
	<-jwks.arrived // the first fetch is under way, and held

	if code, body := readyStatus(t, h); code != http.StatusServiceUnavailable || body.Status != "unavailable" || body.Error == "" {
		t.Fatalf("/health/ready while the JWKS hangs: %d %+v, want 503 unavailable with an error", code, body)
	}
	tok := k.signFor(t)
	const notLoaded = "not loaded yet"
	w := serve(t, h, publishRequest(bearer(tok)), "203.0.113.1:1")
	wantAnswer(t, w, http.StatusServiceUnavailable, notLoaded)
	resp := subscribe(t, h, "/events?topic=a&access_token="+tok)
	wantRefusal(t, resp, http.StatusServiceUnavailable, notLoaded)
	if p, s := w.Header().Get("Retry-After"), resp.Header.Get("Retry-After"); p != "5" || s != "5" {
		t.Errorf("Retry-After of the 503s: publish %q, subscribe %q, want 5", p, s)
	}
	wantAnswer(t, serve(t, h, publishRequest(bearer(subjectToken(t, "alice"))), "203.0.113.1:1"), http.StatusOK, "")

	jwks.release()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := h.WaitKeys(ctx); err != nil {
		t.Fatalf("WaitKeys after the JWKS answered: %v", err)
	}
	if code, body := readyStatus(t, h); code != http.StatusOK || body.Status != "ready" {
		t.Fatalf("/health/ready once the JWKS was fetched: %d %+v, want 200 ready", code, body)
	}
	wantAnswer(t, serve(t, h, publishRequest(bearer(tok)), "203.0.113.1:1"), http.StatusOK, "")
	if got := subscribeStatus(t, h, tok); got != http.StatusOK {
		t.Fatalf("subscribe once the JWKS was fetched: status %d, want 200", got)
	}
}

// TestWaitKeys checks that a hub without a JWKS URL has
// its keys at once, and that WaitKeys on a hub whose JWKS hangs returns
// its context's error.
func TestWaitKeys(t *testing.T) {
	t.Parallel()
	if err := newHub(t, hub.Config{JWTSecret: testSecret}).WaitKeys(t.Context()); err != nil {
		t.Errorf("WaitKeys without a JWKS URL: %v", err)
	}
	jwks := startHangingJWKS(t)
	h := newHub(t, hub.Config{JWTJWKSURL: jwks.url})
	<-jwks.arrived
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.WaitKeys(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitKeys with a hanging JWKS and a cancelled context: %v, want context.Canceled", err)
	}
}
