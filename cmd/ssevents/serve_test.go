package main_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/redistest"
)

func TestServe_publishSubscribeWithoutAuth(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	s := subscribe(t, eventsURL(m, "a,b"), nil)

	id1 := mustPublish(t, m, `{"topic": "a", "event": "created", "data": {"n": 1, "s": "x y"}}`, nil)
	id2 := mustPublish(t, m, `{"topics": ["a", "b"], "event": "changed", "data": [1, 2]}`, nil)
	id3 := mustPublish(t, m, `{"topic": "b", "event": "deleted"}`, nil)
	mustPublish(t, m, `{"topic": "other", "event": "ignored", "data": 1}`, nil)
	id4 := mustPublish(t, m, `{"topic": "a", "event": "last", "data": "end"}`, http.Header{"Origin": {"http://localhost:8000"}}) // the demo page
	// curl -d sends a form Content-Type: a JSON body is still read as JSON.
	id5 := mustPublish(t, m, `{"topic": "b", "event": "curl", "data": {}}`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})

	want := []sseEvent{
		{id1, "created", `{"n":1,"s":"x y"}`},
		{id2, "changed", `[1,2]`}, // once, though published to both of the stream's topics
		{id3, "deleted", `null`},
		{id4, "last", `"end"`},
		{id5, "curl", `{}`},
	}
	for _, w := range want {
		if got := s.next(); got != w {
			t.Fatalf("event %+v, want %+v", got, w)
		}
	}
}

// A retry of POST /publish with the same Idempotency-Key and request
// answers the first id and publishes nothing new; the key with another
// topic or data answers 422 naming it and publishes nothing; another key
// publishes anew.
func TestServe_publishIdempotencyKey(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	s := subscribe(t, eventsURL(m, "a,b"), nil)
	key := http.Header{"Idempotency-Key": {"order-42/attempt"}}
	first := mustPublish(t, m, `{"topic": "a", "event": "created", "data": 1}`, key)
	if again := mustPublish(t, m, `{"topic": "a", "event": "created", "data": 1}`, key); again != first {
		t.Fatalf("retry answered id %s, want the first publish's %s", again, first)
	}
	for _, body := range []string{`{"topic": "b", "event": "created", "data": 1}`, `{"topic": "a", "event": "created", "data": 2}`} {
		if status, ans := publish(t, m, body, key); status != http.StatusUnprocessableEntity || ans["idempotency_key"] != "order-42/attempt" {
			t.Fatalf("publish %s with a used key: status %d, body %v; want 422 naming the key", body, status, ans)
		}
	}
	fresh := mustPublish(t, m, `{"topic": "a", "event": "created", "data": 3}`, http.Header{"Idempotency-Key": {"order-43"}})
	for _, w := range []sseEvent{{first, "created", "1"}, {fresh, "created", "3"}} {
		if got := s.next(); got != w {
			t.Fatalf("event %+v, want %+v (the retry must publish nothing)", got, w)
		}
	}
}

func TestServe_resumeWithLastEventID(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	first := mustPublish(t, m, `{"topic": "r", "event": "one", "data": 1}`, nil)
	second := mustPublish(t, m, `{"topic": "r", "event": "two", "data": 2}`, nil)
	s := subscribe(t, eventsURL(m, "r"), http.Header{"Last-Event-ID": {first}})
	if got, want := s.next(), (sseEvent{second, "two", "2"}); got != want {
		t.Fatalf("replayed %+v, want %+v", got, want)
	}
}

func TestServe_publishErrors(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--max-message-size", "1000", "--max-topics", "3")
	big := strings.Repeat("x", 1001)
	huge := strings.Repeat("x", 100_000)
	tests := []struct {
		name   string
		body   string
		header http.Header
		status int
		want   string
	}{
		{"not JSON", `{"topic": "a",`, nil, 400, "the JSON ends too early"},
		{"syntax error", `{"topic": "a" "event": "e"}`, nil, 400, "invalid JSON at byte"},
		{"not an object", `[1]`, nil, 400, "must be a JSON object"},
		{"empty body", ``, nil, 400, "empty body"},
		{"two values", `{"topic": "a", "event": "e"} {}`, nil, 400, "more than one JSON value"},
		{"unknown field", `{"topc": "a", "event": "e"}`, nil, 400, `unknown field "topc"`},
		{"wrong type", `{"topic": 1, "event": "e"}`, nil, 400, `field "topic" must be a JSON string`},
		{"no topic", `{"event": "e", "data": 1}`, nil, 400, "topic (or topics) field is missing"},
		{"empty topics", `{"topics": [], "event": "e"}`, nil, 400, "topic (or topics) field is missing"},
		{"topic and topics", `{"topic": "a", "topics": ["b"], "event": "e"}`, nil, 400, "either topic or topics"},
		{"invalid topic", `{"topic": "a b", "event": "e"}`, nil, 400, `"a b" has the character ' '`},
		{"invalid topic in topics", `{"topics": ["a", "b\n"], "event": "e"}`, nil, 400, "invalid topic"},
		{"too many topics", `{"topics": ["a", "b", "c", "d"], "event": "e"}`, nil, 400, "4 topics, the limit is 3"},
		{"no event", `{"topic": "a", "data": 1}`, nil, 400, "event field is missing"},
		{"invalid event", `{"topic": "a", "event": "bad name"}`, nil, 400, `"bad name" has the character ' '`},
		{"reserved event", `{"topic": "a", "event": "resync"}`, nil, 400, "reserved"},
		{"form content type, not JSON", `topic=a&event=e`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 400, "JSON"},
		{"data too large", `{"topic": "a", "event": "e", "data": "` + big + `"}`, nil, 413, "1003 bytes of data, the limit is 1000"},
		{"body too large", `{"topic": "a", "event": "e", "data": "` + huge + `"}`, nil, 413, "event data may be at most 1000 bytes"},
		{"through a proxy", `{"topic": "a", "event": "e"}`, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, 403, "only from loopback"},
		{"forwarded", `{"topic": "a", "event": "e"}`, http.Header{"Forwarded": {"for=203.0.113.9"}}, 403, "only from loopback"},
		{"page of another site", `{"topic": "a", "event": "e"}`, http.Header{"Origin": {"http://rebound.example:8000"}}, 403, "only from a localhost page"},
		{"empty idempotency key", `{"topic": "a", "event": "e"}`, http.Header{"Idempotency-Key": {""}}, 400, "empty idempotency key"},
		{"idempotency key with a space", `{"topic": "a", "event": "e"}`, http.Header{"Idempotency-Key": {"a b"}}, 400, "invalid idempotency key: idempotency key has the byte 0x20"},
		{"idempotency key too long", `{"topic": "a", "event": "e"}`, http.Header{"Idempotency-Key": {strings.Repeat("k", 201)}}, 400, "201 bytes long, the limit is 200"},
		{"two idempotency keys", `{"topic": "a", "event": "e"}`, http.Header{"Idempotency-Key": {"k1", "k2"}}, 400, "2 Idempotency-Key headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tt.header {
				h[k] = v
			}
			resp := request(t, http.MethodPost, m.URL()+"/publish", tt.body, h)
			wantError(t, resp, tt.status, tt.want)
		})
	}
}

// After the hub's Close, publishes are refused first (503, "shutting
// down"), then the streams end.
func TestServe_publishWhenBrokerClosed(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	if err := m.Hub().Close(); err != nil {
		t.Fatal(err)
	}
	resp := request(t, http.MethodPost, m.URL()+"/publish", `{"topic": "a", "event": "e"}`, http.Header{"Content-Type": {"application/json"}})
	wantError(t, resp, http.StatusServiceUnavailable, "shutting down")
	resp = request(t, http.MethodGet, eventsURL(m, "a"), "", nil)
	wantError(t, resp, http.StatusServiceUnavailable, "shutting down")
}

func TestServe_subscribeErrors(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	tests := []struct {
		name, url string
		status    int
		want      string
	}{
		{"no topic", m.URL() + "/events", 400, "no topic"},
		{"invalid topic", eventsURL(m, "a b"), 400, "invalid topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantError(t, request(t, http.MethodGet, tt.url, "", nil), tt.status, tt.want)
		})
	}
}

func TestServe_demoPage(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--path", "/sse")
	tests := []struct {
		path, contentType string
		contains          []string
	}{
		{"/", "text/html", []string{`content="/sse"`, `/demo/demo.js`, "Publish", "Subscribe"}},
		{"/demo/demo.js", "text/javascript", []string{`from "/ssevents.js"`, "subscribe(", `fetch("/publish"`, "textContent", "addEventListener"}},
		{"/demo/demo.css", "text/css", []string{".status"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp := request(t, http.MethodGet, m.URL()+tt.path, "", nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("%s lacks %q", tt.path, s)
				}
			}
		})
	}
	t.Run("the client the page imports", func(t *testing.T) {
		t.Parallel()
		resp := request(t, http.MethodGet, m.URL()+"/ssevents.js", "", nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
			!strings.Contains(string(body), "getReader()") || !strings.Contains(string(body), "Last-Event-ID") {
			t.Fatalf("status %d, Content-Type %q, %d bytes: want the client module", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	})
	t.Run("unknown asset", func(t *testing.T) {
		t.Parallel()
		if resp := request(t, http.MethodGet, m.URL()+"/demo/passwd", "", nil); resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		off := startHub(t, "--demo=false")
		if resp := request(t, http.MethodGet, off.URL()+"/", "", nil); resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})
}

func TestServe_healthAndMetrics(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	for _, path := range []string{"/health", "/health/live", "/health/ready", "/metrics"} {
		resp := request(t, http.MethodGet, m.URL()+path, "", nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		decodeJSON(t, resp)
	}
	resp := request(t, http.MethodGet, m.URL()+"/metrics/prometheus", "", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "sse_connections_current") {
		t.Errorf("GET /metrics/prometheus: status %d, body lacks sse_connections_current", resp.StatusCode)
	}
}

func TestServe_shutdownEndsStreams(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	streams := []*stream{subscribe(t, eventsURL(m, "a"), nil), subscribe(t, eventsURL(m, "b"), nil)}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Close() }()
	for _, s := range streams {
		s.wantEnd()
	}
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with open streams", d)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestServe_concurrentPublishers(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	s := subscribe(t, eventsURL(m, "load"), nil)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, ans := publish(t, m, fmt.Sprintf(`{"topic": "load", "event": "e", "data": %d}`, i), nil)
			if status != 200 {
				t.Errorf("publish %d: %d %v", i, status, ans)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for range n {
		seen[s.next().Data] = true
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct events, want %d", len(seen), n)
	}
}

func TestRun_invalidConfig(t *testing.T) {
	t.Parallel()
	keyFile := func(name, data string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return []string{"--jwt-public-key-file", writeFile(t, name, []byte(data))}
		}
	}
	jwksFile := func(data string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return []string{"--jwt-jwks-file", writeFile(t, "jwks.json", []byte(data))}
		}
	}
	fixed := func(args ...string) func(t *testing.T) []string { return func(*testing.T) []string { return args } }
	tests := []struct {
		name, want string
		args       func(t *testing.T) []string
	}{
		{"missing key file", "SSE_JWT_PUBLIC_KEY_FILE", fixed("--jwt-public-key-file", "/nonexistent/key.pem")},
		{"missing JWKS file", "SSE_JWT_JWKS_FILE", fixed("--jwt-jwks-file", "/nonexistent/jwks.json")},
		{"not PEM", "holds no PEM block", keyFile("k.pem", "hello")},
		{"private key", "is not a public key", keyFile("k.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})))},
		{"short RSA key", "want 2048 or more", func(t *testing.T) []string {
			k := must(rsa.GenerateKey(rand.Reader, 1024))
			return []string{"--jwt-public-key-file", writeFile(t, "k.pem", publicPEM(t, &k.PublicKey))}
		}},
		{"JWKS not JSON", "not a JWKS document", jwksFile("{")},
		{"JWKS without usable key", "holds no RSA or EC signature key", jwksFile(`{"keys": [{"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB"}, {"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}`)},
		{"JWKS point off the curve", `kid "bad"`, jwksFile(`{"keys": [{"kty": "EC", "kid": "bad", "crv": "P-256", "x": "AQ", "y": "AQ"}]}`)},
		{"JWKS alg does not fit", `alg "ES384" does not fit`, func(t *testing.T) []string {
			set := strings.Replace(string(jwks(t, map[string]any{"e": &ecKey().PublicKey})), `"kty":"EC"`, `"kty":"EC","alg":"ES384"`, 1)
			return []string{"--jwt-jwks-file", writeFile(t, "jwks.json", []byte(set))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := main.NewMain()
			if err := m.ParseFlags(append([]string{"--addr", "127.0.0.1:0"}, tt.args(t)...), noEnv, io.Discard); err != nil {
				t.Fatal(err)
			}
			m.Logger = discardLogger()
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatal("Run: no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

// authApp is an application's authorization webhook for the tests. Its
// answer depends on the session cookie (or the bearer token).
type authApp struct {
	*httptest.Server
	calls atomic.Int64
	gate  chan struct{} // the "gated" session waits until it is closed
	mu    sync.Mutex
	seen  []webhookCall
}

type webhookCall struct {
	topics                      []string
	cookie, authz, forwardedFor string
}

func startAuthApp(t *testing.T) *authApp {
	t.Helper()
	a := &authApp{gate: make(chan struct{})}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		var body struct {
			Topics []string `json:"topics"`
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad webhook request", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.seen = append(a.seen, webhookCall{body.Topics, r.Header.Get("Cookie"), r.Header.Get("Authorization"), r.Header.Get("X-Forwarded-For")})
		a.mu.Unlock()
		session := ""
		if c, err := r.Cookie("session"); err == nil {
			session = c.Value
		}
		switch {
		case r.Header.Get("Authorization") == "Bearer good", session == "allow":
			_, _ = fmt.Fprint(w, `{"allow": true}`)
		case session == "allow-json":
			_, _ = fmt.Fprint(w, `{"allow": true}`)
		case session == "deny":
			w.WriteHeader(http.StatusForbidden)
		case session == "deny-json":
			_, _ = fmt.Fprint(w, `{"allow": false}`)
		case session == "only-a":
			_, _ = fmt.Fprint(w, `{"allow": true, "topics": ["a"]}`)
		case session == "broken":
			http.Error(w, "database down", http.StatusInternalServerError)
		case session == "garbage":
			_, _ = fmt.Fprint(w, `<html>`)
		case session == "gated":
			select {
			case <-r.Context().Done():
			case <-a.gate:
			}
			_, _ = fmt.Fprint(w, `{"allow": true}`)
		case session == "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(testTimeout):
			}
			_, _ = fmt.Fprint(w, `{"allow": true}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func session(v string) http.Header { return http.Header{"Cookie": {"session=" + v + "; other=1"}} }

func TestAuth_webhook(t *testing.T) {
	t.Parallel()
	app := startAuthApp(t)
	m := startHub(t, "--authorize-url", app.URL, "--authorize-timeout-ms", "300", "--public-topics", "news")
	u := func(topics string, extra ...string) string { return eventsURL(m, topics, extra...) }
	runSubscribeCases(t, []authCase{
		{name: "allow", url: u("a,b"), header: session("allow"), status: 200},
		{name: "allow JSON", url: u("a"), header: session("allow-json"), status: 200},
		{name: "deny", url: u("a"), header: session("deny"), status: 403, want: `topic "a"`},
		{name: "deny JSON", url: u("a"), header: session("deny-json"), status: 403, want: `topic "a"`},
		{name: "some topics", url: u("a"), header: session("only-a"), status: 200},
		{name: "some topics, one denied", url: u("a,b"), header: session("only-a"), status: 403, want: `topic "b"`},
		{name: "not signed in", url: u("a"), status: 401, want: "did not recognize the credentials"},
		{name: "webhook fails", url: u("a"), header: session("broken"), status: 403, want: "authorization service did not answer"},
		{name: "webhook answers garbage", url: u("a"), header: session("garbage"), status: 403, want: "authorization service did not answer"},
		{name: "webhook times out", url: u("a"), header: session("slow"), status: 403, want: "authorization service did not answer"},
		{name: "bearer header forwarded", url: u("a"), header: bearer("good"), status: 200},
		{name: "query token forwarded as bearer", url: u("a", "access_token", "good"), status: 200},
		{name: "public topic, no webhook call", url: u("news"), status: 200},
	})
	// Publishing is not the webhook's business: loopback only.
	runPublishCases(t, m, []authCase{
		{name: "publish from loopback", body: `{"topic": "a", "event": "e"}`, status: 200},
		{name: "publish through a proxy", body: `{"topic": "a", "event": "e"}`, header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}, status: 403, want: "only from loopback"},
	})
}

func TestAuth_webhookRequest(t *testing.T) {
	t.Parallel()
	app := startAuthApp(t)
	m := startHub(t, "--authorize-url", app.URL)
	subscribe(t, eventsURL(m, "b,a"), session("allow"))
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.seen) != 1 {
		t.Fatalf("%d webhook calls, want 1 for all topics", len(app.seen))
	}
	c := app.seen[0]
	if strings.Join(c.topics, ",") != "b,a" || c.cookie != "session=allow; other=1" || c.authz != "" || c.forwardedFor != "127.0.0.1" {
		t.Fatalf("webhook request %+v", c)
	}
}

func TestAuth_webhookCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		wantCalls int64
	}{
		{"cached", nil, 2}, // one per distinct credentials+topics
		{"no cache", []string{"--authorize-cache-seconds", "0"}, 4},               // one per subscription
		{"failures are not cached", []string{"--authorize-timeout-ms", "100"}, 0}, // checked below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := startAuthApp(t)
			m := startHub(t, append([]string{"--authorize-url", app.URL}, tt.args...)...)
			if tt.name == "failures are not cached" {
				for range 2 {
					resp := request(t, http.MethodGet, eventsURL(m, "a"), "", session("broken"))
					wantError(t, resp, 403, "did not answer")
				}
				if n := app.calls.Load(); n != 2 {
					t.Fatalf("%d webhook calls for two failures, want 2", n)
				}
				return
			}
			for range 2 {
				subscribe(t, eventsURL(m, "a"), session("allow"))
				resp := request(t, http.MethodGet, eventsURL(m, "a"), "", session("deny"))
				wantError(t, resp, 403, `topic "a"`)
			}
			if n := app.calls.Load(); n != tt.wantCalls {
				t.Fatalf("%d webhook calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestAuth_issuerAndAudience(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret, "--jwt-issuer", "https://auth.example", "--jwt-audience", "ssevents")
	spec := func(iss, aud string) tokenSpec {
		return tokenSpec{subscribe: []string{"*"}, iss: iss, aud: aud}
	}
	u := eventsURL(m, "a")
	runSubscribeCases(t, []authCase{
		{name: "both right", url: u, header: bearer(hs256(t, spec("https://auth.example", "ssevents"))), status: 200},
		{name: "wrong issuer", url: u, header: bearer(hs256(t, spec("https://evil.example", "ssevents"))), status: 401, want: "wrong issuer"},
		{name: "no issuer", url: u, header: bearer(hs256(t, spec("", "ssevents"))), status: 401, want: "iss"},
		{name: "wrong audience", url: u, header: bearer(hs256(t, spec("https://auth.example", "other"))), status: 401, want: "wrong audience"},
		{name: "no audience", url: u, header: bearer(hs256(t, spec("https://auth.example", ""))), status: 401, want: "required aud claim"},
	})
}

// TestAuth_webhookCoalesces checks that identical subscriptions arriving
// while the webhook is being asked share its one answer.
func TestAuth_webhookCoalesces(t *testing.T) {
	t.Parallel()
	app := startAuthApp(t)
	m := startHub(t, "--authorize-url", app.URL, "--authorize-timeout-ms", "10000")
	const n = 5
	statuses := make(chan int, n)
	for range n {
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, eventsURL(m, "a"), nil)
			req.Header.Set("Cookie", "session=gated")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	waitPendingAuth(t, m, n) // all n are being authorized
	close(app.gate)
	for range n {
		if st := <-statuses; st != http.StatusOK {
			t.Errorf("status %d, want 200", st)
		}
	}
	if calls := app.calls.Load(); calls != 1 {
		t.Fatalf("%d webhook calls for %d identical subscriptions at once, want 1", calls, n)
	}
}

func TestAuth_jwtAndWebhook(t *testing.T) {
	t.Parallel()
	app := startAuthApp(t)
	m := startHub(t, "--jwt-secret", testSecret, "--authorize-url", app.URL)
	tok := hs256(t, tokenSpec{subscribe: []string{"jwt:*"}})
	runSubscribeCases(t, []authCase{
		{name: "token grants", url: eventsURL(m, "jwt:1"), header: bearer(tok), status: 200},
		{name: "webhook grants the rest", url: eventsURL(m, "jwt:1,other"), header: http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=allow"}}, status: 200},
		{name: "no token, webhook decides", url: eventsURL(m, "other"), header: session("allow"), status: 200},
		{name: "bad token", url: eventsURL(m, "other"), header: http.Header{"Authorization": {"Bearer x"}, "Cookie": {"session=allow"}}, status: 401, want: "malformed"},
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	app := "https://app.example.com"
	listed := startHub(t, "--cors-origins", app+", http://localhost:3000")
	none := startHub(t)
	anyOrigin := startHub(t, "--cors-origins", "*")
	preflight := func(m *main.Main, origin, path string) *http.Response {
		return request(t, http.MethodOptions, m.URL()+path, "", http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, content-type"}})
	}
	t.Run("preflight allowed", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/publish", "/events"} {
			resp := preflight(listed, app, path)
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != app ||
				h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
				t.Fatalf("%s: status %d, headers %v", path, resp.StatusCode, h)
			}
		}
	})
	t.Run("preflight denied", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			m      *main.Main
			origin string
		}{{listed, "https://evil.example"}, {listed, app + ".evil.example"}, {none, app}} {
			resp := preflight(tt.m, tt.origin, "/publish")
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q", tt.origin, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			wantError(t, resp, http.StatusForbidden, "is not allowed")
		}
	})
	t.Run("any origin, without credentials", func(t *testing.T) {
		t.Parallel()
		resp := preflight(anyOrigin, "https://anywhere.example", "/events")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("stream from an allowed origin", func(t *testing.T) {
		t.Parallel()
		s := subscribe(t, eventsURL(listed, "a"), http.Header{"Origin": {app}})
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != app {
			t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, app)
		}
	})
	t.Run("publish from an allowed origin", func(t *testing.T) {
		t.Parallel()
		resp := request(t, http.MethodPost, listed.URL()+"/publish", `{"topic": "a", "event": "e"}`,
			http.Header{"Origin": {"http://localhost:3000"}, "Content-Type": {"application/json"}})
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Fatalf("status %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("stream from another origin", func(t *testing.T) {
		t.Parallel()
		s := subscribe(t, eventsURL(listed, "a"), http.Header{"Origin": {"https://evil.example"}})
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin %q, want none", got)
		}
	})
}

// TestServe_redis runs two hubs on one Redis: an event published on one
// reaches a subscriber of the other; with Redis gone, publishing is 503
// (after at most a few 504s, outcome unknown, from pooled connections that
// broke under a publish).
func TestServe_redis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := startHub(t, "--redis-url", srv.URL())
	b := startHub(t, "--redis-url", srv.URL())
	s := subscribe(t, eventsURL(a, "shared"), nil)
	id := mustPublish(t, b, `{"topic": "shared", "event": "e", "data": {"from": "b"}}`, nil)
	if got, want := s.next(), (sseEvent{id, "e", `{"from":"b"}`}); got != want {
		t.Fatalf("event %+v, want %+v", got, want)
	}
	srv.Kill()
	resp := request(t, http.MethodPost, b.URL()+"/publish", `{"topic": "shared", "event": "e"}`, http.Header{"Content-Type": {"application/json"}})
	for i := 0; resp.StatusCode == http.StatusGatewayTimeout && i < 10; i++ {
		wantError(t, resp, http.StatusGatewayTimeout, "outcome unknown")
		resp = request(t, http.MethodPost, b.URL()+"/publish", `{"topic": "shared", "event": "e"}`, http.Header{"Content-Type": {"application/json"}})
	}
	wantError(t, resp, http.StatusServiceUnavailable, "unavailable")
}
