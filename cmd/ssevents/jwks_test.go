package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ssevents/ssevents/hub"
)

// hangingJWKS serves a JWKS of one ES256 key, but holds every request
// until release: an identity provider that hangs while the hub starts.
type hangingJWKS struct {
	url      string
	key      *ecdsa.PrivateKey
	arrived  chan struct{} // closed when the first request came in
	released chan struct{} // closed by release
	release  func()
}

func startHangingJWKS(t *testing.T) *hangingJWKS {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set := map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
		"kid": "k1", "x": b64(pub[1:33]), "y": b64(pub[33:])}}}
	s := &hangingJWKS{key: k, arrived: make(chan struct{}), released: make(chan struct{})}
	s.release = sync.OnceFunc(func() { close(s.released) })
	arrive := sync.OnceFunc(func() { close(s.arrived) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrive()
		select {
		case <-s.released:
			_ = json.NewEncoder(w).Encode(set)
		case <-r.Context().Done(): // the hub gave up (its timeout, or Close)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(s.release) // before srv.Close: no request is left held
	s.url = srv.URL
	return s
}

// token returns a token of the JWKS's key that may publish and subscribe
// to every topic.
func (s *hangingJWKS) token(t *testing.T) string {
	t.Helper()
	c := hub.Claims{SSE: hub.TopicClaims{Publish: []string{"*"}, Subscribe: []string{"*"}}}
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// A JWKS URL that hangs does not hold the listener: serve listens at once
// and answers, not ready (503) and refusing the JWKS's tokens with a JSON
// 503, until the first fetch succeeds; then it is ready and they work.
func TestServe_jwksURLHangingAtStart(t *testing.T) {
	t.Parallel()
	jwks := startHangingJWKS(t)
	m := startHub(t, "--jwt-jwks-url", jwks.url)
	select {
	case <-jwks.released:
		t.Fatal("the JWKS was released before the test did it")
	case <-jwks.arrived: // Run returned while the first fetch is held
	}
	tok := jwks.token(t)

	ready := request(t, http.MethodGet, m.URL()+"/health/ready", "", nil)
	if ready.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/health/ready while the JWKS hangs: status %d, want 503", ready.StatusCode)
	}
	if body := decodeJSON(t, ready); body["status"] != "unavailable" || body["error"] == nil {
		t.Fatalf("/health/ready while the JWKS hangs: %v, want status unavailable with an error", body)
	}
	const notLoaded = "not loaded yet"
	wantError(t, request(t, http.MethodPost, m.URL()+"/publish", `{"topic": "t", "data": 1}`,
		http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}), http.StatusServiceUnavailable, notLoaded)
	wantError(t, request(t, http.MethodGet, eventsURL(m, "t"), "", bearer(tok)), http.StatusServiceUnavailable, notLoaded)

	jwks.release()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := m.Hub().WaitKeys(ctx); err != nil {
		t.Fatalf("WaitKeys after the JWKS answered: %v", err)
	}
	if ready := request(t, http.MethodGet, m.URL()+"/health/ready", "", nil); ready.StatusCode != http.StatusOK {
		t.Fatalf("/health/ready once the JWKS was fetched: status %d, want 200", ready.StatusCode)
	}
	s := subscribe(t, eventsURL(m, "t"), bearer(tok))
	id := mustPublish(t, m, `{"topic": "t", "event": "e", "data": "after"}`, bearer(tok))
	if ev := s.next(); ev.ID != id || ev.Data != `"after"` {
		t.Fatalf("event %+v, want id %s data \"after\"", ev, id)
	}
}
