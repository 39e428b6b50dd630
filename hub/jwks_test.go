package hub_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents/hub"
)

// signingKey is an ES256 key with its kid.
type signingKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newSigningKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, key: k}
}

// sign returns a token of k that may subscribe to every topic.
func (k signingKey) sign(t *testing.T) string {
	t.Helper()
	return k.signClaims(t, hub.TopicClaims{Subscribe: []string{"*"}})
}

// signClaims returns a token of k, valid for a minute, with topics.
func (k signingKey) signClaims(t *testing.T, topics hub.TopicClaims) string {
	t.Helper()
	c := hub.Claims{SSE: topics}
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Minute))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksServer serves a JWKS whose keys (or failure) the test changes, and
// counts its requests.
type jwksServer struct {
	url      string
	requests atomic.Int64
	mu       sync.Mutex
	keys     []signingKey
	down     bool // answer 503
}

func startJWKS(t *testing.T, keys ...signingKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		writeJWKS(w, s.keys)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// writeJWKS writes the public keys of keys as a JWKS.
func writeJWKS(w http.ResponseWriter, keys []signingKey) {
	b64 := base64.RawURLEncoding.EncodeToString
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, k := range keys {
		pub, err := k.key.PublicKey.Bytes() // 0x04 || x || y
		if err != nil {
			panic(err)
		}
		set.Keys = append(set.Keys, map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
			"kid": k.kid, "x": b64(pub[1:33]), "y": b64(pub[33:])})
	}
	_ = json.NewEncoder(w).Encode(set)
}

// newJWKSHub returns a hub verifying tokens with the JWKS at url, once it
// has fetched it (New does not wait for that).
func newJWKSHub(t *testing.T, url string) *hub.Hub {
	t.Helper()
	h := newHub(t, hub.Config{JWTJWKSURL: url})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.WaitKeys(ctx); err != nil {
		t.Fatalf("the JWKS was not fetched: %v", err)
	}
	return h
}

func (s *jwksServer) set(down bool, keys ...signingKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.keys = down, keys
}

// subscribeStatus returns the status of a subscribe to topic a with tok
// (a stream it opens is closed when the test ends).
func subscribeStatus(t *testing.T, h *hub.Hub, tok string) int {
	t.Helper()
	return subscribe(t, h, "/events?topic=a&access_token="+tok).StatusCode
}

// TestJWKSURL_rotationAndRateLimit checks that a token signed with a key
// the JWKS published after the hub started is accepted (its unknown kid
// makes the hub fetch the set again), that tokens with unknown kids cause
// at most one fetch per interval, and that a JWKS server that is down
// does not stop tokens signed with known keys.
func TestJWKSURL_rotationAndRateLimit(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := newSigningKey(t, "k1"), newSigningKey(t, "k2"), newSigningKey(t, "k3")
	jwks := startJWKS(t, k1)
	h := newJWKSHub(t, jwks.url)
	steps := []struct {
		name     string
		change   func()
		token    string
		status   int
		requests int64 // to the JWKS so far
	}{
		{"known key", nil, k1.sign(t), 200, 1},
		{"rotated key: unknown kid, one fetch", func() { jwks.set(false, k2) }, k2.sign(t), 200, 2},
		{"unknown kid again: rate-limited, no fetch", func() { jwks.set(false, k2, k3) }, k3.sign(t), 401, 2},
		{"many unknown kids: still no fetch", nil, k3.sign(t), 401, 2},
		{"JWKS down: known key still works", func() { jwks.set(true) }, k2.sign(t), 200, 2},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		n := 1
		if s.name == "many unknown kids: still no fetch" {
			n = 20
		}
		for range n {
			if got := subscribeStatus(t, h, s.token); got != s.status {
				t.Fatalf("%s: status %d, want %d", s.name, got, s.status)
			}
		}
		if got := jwks.requests.Load(); got != s.requests {
			t.Fatalf("%s: %d JWKS requests, want %d", s.name, got, s.requests)
		}
	}
}

// TestJWKSURL_backgroundRefresh checks that the set is fetched in the
// background (a rotated key works with no fetch on its kid: that one is
// rate-limited away), and that failing fetches keep the known keys.
// Not parallel: it shortens the package's refresh intervals.
func TestJWKSURL_backgroundRefresh(t *testing.T) {
	t.Cleanup(hub.SetJWKSIntervals(50*time.Millisecond, time.Hour))
	k1, k2, other := newSigningKey(t, "k1"), newSigningKey(t, "k2"), newSigningKey(t, "x")
	jwks := startJWKS(t, k1)
	h := newJWKSHub(t, jwks.url)
	if got := subscribeStatus(t, h, other.sign(t)); got != 401 { // uses up the one fetch on an unknown kid
		t.Fatalf("unknown key: status %d, want 401", got)
	}
	jwks.set(false, k2)
	waitFetches := func(n int64) {
		t.Helper()
		target := jwks.requests.Load() + n
		deadline := time.Now().Add(5 * time.Second)
		for jwks.requests.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d background fetches in 5 s", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFetches(2)
	if got := subscribeStatus(t, h, k2.sign(t)); got != 200 {
		t.Fatalf("key published after start: status %d, want 200", got)
	}
	if got := subscribeStatus(t, h, k1.sign(t)); got != 401 {
		t.Fatalf("key removed from the set: status %d, want 401", got)
	}
	jwks.set(true)
	waitFetches(3)
	if got := subscribeStatus(t, h, k2.sign(t)); got != 200 {
		t.Fatalf("JWKS down: known key answered %d, want 200", got)
	}
}
