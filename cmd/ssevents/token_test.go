package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// testSecret is an HS256 secret of the minimum length.
const testSecret = "0123456789abcdef0123456789abcdef"

// Keys are made once per test binary: an RSA key takes a while under -race.
var (
	rsaKey   = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	ecKey    = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	otherKey = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// tokenSpec describes a test token.
type tokenSpec struct {
	publish, subscribe []string
	ttl                time.Duration // default 1h; negative: expired
	noExp              bool
	kid                string
	iss, aud           string
	sub                string // default "tester"
}

// sign makes a token signed with method and key.
func sign(t *testing.T, method jwt.SigningMethod, key any, s tokenSpec) string {
	t.Helper()
	now := time.Now()
	if s.ttl == 0 {
		s.ttl = time.Hour
	}
	c := hub.Claims{SSE: hub.TopicClaims{Publish: s.publish, Subscribe: s.subscribe}}
	c.Subject, c.Issuer = "tester", s.iss
	if s.sub != "" {
		c.Subject = s.sub
	}
	if s.aud != "" {
		c.Audience = jwt.ClaimStrings{s.aud}
	}
	c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Minute))
	if !s.noExp {
		c.ExpiresAt = jwt.NewNumericDate(now.Add(s.ttl))
	}
	tok := jwt.NewWithClaims(method, c)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	str, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return str
}

func hs256(t *testing.T, s tokenSpec) string {
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), s)
}

// writeFile writes data to a file in the test's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// publicPEM encodes a public key as a PKIX "PUBLIC KEY" PEM block.
func publicPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwks encodes public keys as a JSON Web Key Set, with kids.
func jwks(t *testing.T, keys map[string]any) []byte {
	t.Helper()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, k := range keys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			set.Keys = append(set.Keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
		case *ecdsa.PublicKey:
			raw := must(k.Bytes()) // 0x04 || X || Y
			size := (len(raw) - 1) / 2
			set.Keys = append(set.Keys, map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
				"x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])})
		}
	}
	// An encryption key of another type, which the hub skips.
	set.Keys = append(set.Keys, map[string]string{"kty": "oct", "use": "enc", "k": "c2VjcmV0"})
	return must(json.Marshal(set))
}

func TestToken(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *hub.Claims)
	}{
		{name: "claims", args: []string{"--secret", testSecret, "--sub", "alice", "--publish", "a, b:*", "--subscribe", "workspace:42:*", "--ttl", "2h"},
			check: func(t *testing.T, c *hub.Claims) {
				if c.Subject != "alice" || strings.Join(c.SSE.Publish, "|") != "a|b:*" || strings.Join(c.SSE.Subscribe, "|") != "workspace:42:*" {
					t.Errorf("claims %+v", c)
				}
				if exp := c.ExpiresAt.Time; exp.Sub(now) < 2*time.Hour-time.Second || exp.Sub(now) > 2*time.Hour+time.Second {
					t.Errorf("exp %v, want now + 2h", exp)
				}
			}},
		{name: "secret, issuer and audience from env", args: []string{"--subscribe", "x"},
			env: map[string]string{"SSE_JWT_SECRET": testSecret, "SSE_JWT_ISSUER": "me", "SSE_JWT_AUDIENCE": "hub"},
			check: func(t *testing.T, c *hub.Claims) {
				if c.Issuer != "me" || len(c.Audience) != 1 || c.Audience[0] != "hub" {
					t.Errorf("claims %+v", c)
				}
			}},
		{name: "no secret", args: []string{"--subscribe", "x"}, wantErr: "give --secret"},
		{name: "short secret", args: []string{"--secret", "short"}, wantErr: "want at least 32"},
		{name: "bad ttl", args: []string{"--secret", testSecret, "--ttl", "-1h"}, wantErr: "--ttl"},
		{name: "bad pattern", args: []string{"--secret", testSecret, "--publish", "a b"}, wantErr: `pattern "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut strings.Builder
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			err := main.RunToken(tt.args, lookup, now, &out, &errOut)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c hub.Claims
			_, err = jwt.ParseWithClaims(strings.TrimSpace(out.String()), &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}))
			if err != nil {
				t.Fatalf("the token does not verify: %v", err)
			}
			tt.check(t, &c)
		})
	}
}

// TestToken_acceptedByHub mints with the command and uses the token on a
// hub with the same secret.
func TestToken_acceptedByHub(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret)
	var out strings.Builder
	err := main.RunToken([]string{"--secret", testSecret, "--publish", "room:*", "--subscribe", "room:*"}, noEnv, time.Now(), &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	s := subscribe(t, eventsURL(m, "room:1"), bearer(tok))
	id := mustPublish(t, m, `{"topic": "room:1", "event": "said", "data": "hi"}`, bearer(tok))
	if got, want := s.next(), (sseEvent{id, "said", `"hi"`}); got != want {
		t.Fatalf("event %+v, want %+v", got, want)
	}
}

// TestToken_info puts --info under --info-claim (or SSE_PRESENCE_INFO_CLAIM,
// else "info"), and refuses info that is not a small JSON object.
func TestToken_info(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args      []string
		env       map[string]string
		claim     string
		wantError string
	}{
		{args: []string{"--info", `{"name":"Ann"}`}, claim: "info"},
		{args: []string{"--info", `{"name":"Ann"}`, "--info-claim", "profile"}, claim: "profile"},
		{args: []string{"--info", `{"name":"Ann"}`}, env: map[string]string{"SSE_PRESENCE_INFO_CLAIM": "who"}, claim: "who"},
		{args: []string{"--info", `["Ann"]`}, wantError: "JSON object"},
		{args: []string{"--info", `{"name":"` + strings.Repeat("a", 1100) + `"}`}, wantError: "limit is 1024"},
		{args: []string{"--info", `{}`, "--info-claim", "sub"}, wantError: "already has"},
	} {
		var out, errOut strings.Builder
		lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		err := main.RunToken(append([]string{"--secret", testSecret, "--sub", "ann", "--subscribe", "x"}, tt.args...), lookup, time.Now(), &out, &errOut)
		if tt.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantError)
			}
			continue
		}
		var claims jwt.MapClaims
		if _, err := jwt.ParseWithClaims(strings.TrimSpace(out.String()), &claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got, _ := claims[tt.claim].(map[string]any); got["name"] != "Ann" || claims["sub"] != "ann" {
			t.Errorf("%v: claims %v, want the info under %q", tt.args, claims, tt.claim)
		}
	}
}
