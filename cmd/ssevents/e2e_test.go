package main_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/wire"
)

// testTimeout bounds every request and every wait for an event, so that a
// broken hub fails the test instead of hanging it.
const testTimeout = 10 * time.Second

// startHub runs the real serve wiring on 127.0.0.1:0, configured by flags
// (and no environment variable), and closes it when the test ends.
func startHub(t *testing.T, args ...string) *main.Main {
	t.Helper()
	m := main.NewMain()
	env := func(string) (string, bool) { return "", false }
	if err := m.ParseFlags(append([]string{"--addr", "127.0.0.1:0"}, args...), env, io.Discard); err != nil {
		t.Fatalf("ParseFlags(%q): %v", args, err)
	}
	m.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := m.Run(t.Context()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// testWriter sends the hub's logs to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// request sends a request with a timeout and returns the response, closed
// at the end of the test.
func request(t *testing.T, method, rawURL string, body string, header http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// publish POSTs a JSON body to /publish and returns the status and the
// decoded JSON answer.
func publish(t *testing.T, m *main.Main, body string, header http.Header) (int, map[string]any) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	resp := request(t, http.MethodPost, m.URL()+"/publish", body, h)
	return resp.StatusCode, decodeJSON(t, resp)
}

// mustPublish publishes and fails the test unless the hub answered 200
// with an id.
func mustPublish(t *testing.T, m *main.Main, body string, header http.Header) string {
	t.Helper()
	status, ans := publish(t, m, body, header)
	id, _ := ans["id"].(string)
	if status != http.StatusOK || id == "" {
		t.Fatalf("publish %s: status %d, body %v; want 200 with an id", body, status, ans)
	}
	return id
}

// decodeJSON reads a JSON object answer, checking its Content-Type.
func decodeJSON(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want application/json", resp.Request.Method, resp.Request.URL.Path, ct)
	}
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("decoding the JSON answer: %v", err)
	}
	return v
}

// wantError checks an error answer: its status and that its JSON error
// message contains want.
func wantError(t *testing.T, resp *http.Response, status int, want string) {
	t.Helper()
	if resp.StatusCode != status {
		var body []byte
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") { // a stream would not end
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, status)
	}
	msg, _ := decodeJSON(t, resp)["error"].(string)
	if !strings.Contains(msg, want) {
		t.Fatalf("error %q, want it to contain %q", msg, want)
	}
}

// eventsURL is the SSE URL of the topics, with extra query parameters.
func eventsURL(m *main.Main, topics string, extra ...string) string {
	q := url.Values{"topic": {topics}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return m.URL() + "/events?" + q.Encode()
}

// stream is an open SSE response, read with the parser of package wire.
type stream struct {
	t      *testing.T
	resp   *http.Response
	parser *wire.Parser
}

// sseEvent is one event as the stream delivered it: a wire.Event without
// its topic (these tests read streams of one topic, which have none), as a
// type of this package so that tests may write its literals unkeyed.
type sseEvent struct {
	ID, Name, Data string
}

// eventOf returns ev as an sseEvent.
func eventOf(ev wire.Event) sseEvent { return sseEvent{ev.ID, ev.Name, ev.Data} }

// subscribe opens a stream and fails the test unless it is answered 200
// with text/event-stream. The subscription is live when it returns.
func subscribe(t *testing.T, rawURL string, header http.Header) *stream {
	t.Helper()
	resp := request(t, http.MethodGet, rawURL, "", header)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d (%s), want 200", rawURL, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET %s: Content-Type %q", rawURL, ct)
	}
	return &stream{t: t, resp: resp, parser: wire.NewParser(resp.Body)}
}

// next returns the next event of the stream (skipping retry: lines and
// comments), failing the test if none comes within testTimeout.
func (s *stream) next() sseEvent {
	s.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := s.parser.Next()
		ch <- result{eventOf(ev), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("reading the stream: %v", r.err)
		}
		return r.ev
	case <-time.After(testTimeout):
		s.t.Fatal("no event within", testTimeout)
		return sseEvent{}
	}
}

// wantEnd checks that the stream ends (EOF) within testTimeout.
func (s *stream) wantEnd() {
	s.t.Helper()
	done := make(chan error, 1)
	go func() {
		var err error
		for err == nil {
			_, err = s.parser.Next()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			s.t.Logf("stream ended with %v", err)
		}
	case <-time.After(testTimeout):
		s.t.Fatal("the stream did not end")
	}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// authCase is one request against an authenticating hub and the answer
// expected.
type authCase struct {
	name   string
	url    string      // for subscribe cases
	body   string      // for publish cases
	header http.Header // credentials
	status int
	want   string // in the JSON error, when status is not 200
}

// runSubscribeCases opens each case's stream and checks the answer.
func runSubscribeCases(t *testing.T, cases []authCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := request(t, http.MethodGet, tt.url, "", tt.header)
			checkAuthAnswer(t, resp, tt)
		})
	}
}

// runPublishCases publishes each case's body and checks the answer.
func runPublishCases(t *testing.T, m *main.Main, cases []authCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tt.header {
				h[k] = v
			}
			resp := request(t, http.MethodPost, m.URL()+"/publish", tt.body, h)
			checkAuthAnswer(t, resp, tt)
		})
	}
}

func checkAuthAnswer(t *testing.T, resp *http.Response, tt authCase) {
	t.Helper()
	if tt.status == http.StatusOK {
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d (%s), want 200", resp.StatusCode, body)
		}
		return
	}
	wantError(t, resp, tt.status, tt.want)
	challenge := resp.Header.Get("WWW-Authenticate")
	if (tt.status == http.StatusUnauthorized) != strings.HasPrefix(challenge, "Bearer") {
		t.Errorf("status %d with WWW-Authenticate %q", tt.status, challenge)
	}
}

func cookie(tok string) http.Header { return http.Header{"Cookie": {"sse_token=" + tok}} }

func TestAuth_hs256Subscribe(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret, "--public-topics", "news, public:*")
	ws := hs256(t, tokenSpec{subscribe: []string{"workspace:42:*", "user:7"}})
	pubOnly := hs256(t, tokenSpec{publish: []string{"*"}})
	wrongKey := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("z", 32)), tokenSpec{subscribe: []string{"*"}})
	es := sign(t, jwt.SigningMethodES256, ecKey(), tokenSpec{subscribe: []string{"*"}})
	none := must(jwt.NewWithClaims(jwt.SigningMethodNone, hub.Claims{SSE: hub.TopicClaims{Subscribe: []string{"*"}}}).SignedString(jwt.UnsafeAllowNoneSignatureType))
	u := func(topics string, extra ...string) string { return eventsURL(m, topics, extra...) }
	runSubscribeCases(t, []authCase{
		{name: "no token", url: u("user:7"), status: 401, want: "missing token"},
		{name: "expired", url: u("user:7"), header: bearer(hs256(t, tokenSpec{subscribe: []string{"*"}, ttl: -time.Minute})), status: 401, want: "expired"},
		{name: "without exp", url: u("user:7"), header: bearer(hs256(t, tokenSpec{subscribe: []string{"*"}, noExp: true})), status: 401, want: "required exp claim"},
		{name: "malformed", url: u("user:7"), header: bearer("not.a.token"), status: 401, want: "malformed"},
		{name: "wrong secret", url: u("user:7"), header: bearer(wrongKey), status: 401, want: "signature is invalid"},
		{name: "alg none", url: u("user:7"), header: bearer(none), status: 401, want: "ssevents: unauthorized"},
		{name: "ES256 without a public key", url: u("user:7"), header: bearer(es), status: 401, want: "ssevents: unauthorized"},
		{name: "malformed cookie", url: u("user:7"), header: cookie("garbage"), status: 401, want: "malformed"},
		{name: "header", url: u("user:7"), header: bearer(ws), status: 200},
		{name: "cookie", url: u("user:7"), header: cookie(ws), status: 200},
		{name: "query", url: u("user:7", "access_token", ws), status: 200},
		{name: "header wins over a bad cookie", url: u("user:7"), header: http.Header{"Authorization": {"Bearer " + ws}, "Cookie": {"sse_token=bad"}}, status: 200},
		{name: "glob", url: u("workspace:42:comments,workspace:42:a:b"), header: bearer(ws), status: 200},
		{name: "glob does not match a prefix", url: u("workspace:420:x"), header: bearer(ws), status: 403, want: `"workspace:420:x"`},
		{name: "forbidden topic", url: u("user:7,user:8"), header: bearer(ws), status: 403, want: `topic "user:8"`},
		{name: "publish-only token", url: u("user:7"), header: bearer(pubOnly), status: 403, want: `"user:7"`},
		{name: "public topics without token", url: u("news,public:x:y"), status: 200},
		{name: "public and private without token", url: u("news,user:7"), status: 401, want: "missing token"},
		{name: "public with a valid token", url: u("news,user:7"), header: bearer(ws), status: 200},
	})
}

func TestAuth_hs256Publish(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret)
	pub := hs256(t, tokenSpec{publish: []string{"a", "b:*"}})
	subOnly := hs256(t, tokenSpec{subscribe: []string{"*"}})
	body := func(topics string) string { return `{"topics": ` + topics + `, "event": "e", "data": 1}` }
	runPublishCases(t, m, []authCase{
		{name: "no token, even from loopback", body: body(`["a"]`), status: 401, want: "missing token"},
		{name: "token in the query is not for publishing", body: body(`["a"]`), header: cookie(pub), status: 401, want: "missing token"},
		{name: "expired", body: body(`["a"]`), header: bearer(hs256(t, tokenSpec{publish: []string{"*"}, ttl: -time.Minute})), status: 401, want: "expired"},
		{name: "subscribe-only token", body: body(`["a"]`), header: bearer(subOnly), status: 403, want: `may not publish to topic "a"`},
		{name: "granted", body: body(`["a", "b:1"]`), header: bearer(pub), status: 200},
		{name: "one topic not granted", body: body(`["a", "c"]`), header: bearer(pub), status: 403, want: `topic "c"`},
		{name: "from another host", body: body(`["b:x"]`), header: http.Header{"Authorization": {"Bearer " + pub}, "X-Forwarded-For": {"203.0.113.9"}}, status: 200},
		{name: "bad body after auth", body: `{"topic": "a"`, header: bearer(pub), status: 400, want: "ends too early"},
	})
}

// TestAuth_publicKeys runs the same checks with each kind of public key.
func TestAuth_publicKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args func(t *testing.T) []string
		good func(t *testing.T, s tokenSpec) string // a token the hub accepts
		kids bool                                   // keys have kids: a token with another kid is refused
	}{
		{
			name: "ES256 PEM",
			args: func(t *testing.T) []string {
				return []string{"--jwt-public-key-file", writeFile(t, "ec.pem", publicPEM(t, &ecKey().PublicKey))}
			},
			good: func(t *testing.T, s tokenSpec) string { return sign(t, jwt.SigningMethodES256, ecKey(), s) },
		},
		{
			name: "ES256 certificate",
			args: func(t *testing.T) []string {
				tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
				der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey().PublicKey, ecKey()))
				return []string{"--jwt-public-key-file", writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
			},
			good: func(t *testing.T, s tokenSpec) string { return sign(t, jwt.SigningMethodES256, ecKey(), s) },
		},
		{
			name: "RS256 PKCS #1 PEM",
			args: func(t *testing.T) []string {
				block := &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey().PublicKey)}
				return []string{"--jwt-public-key-file", writeFile(t, "rsa1.pem", pem.EncodeToMemory(block))}
			},
			good: func(t *testing.T, s tokenSpec) string { return sign(t, jwt.SigningMethodRS256, rsaKey(), s) },
		},
		{
			name: "RS256 PEM",
			args: func(t *testing.T) []string {
				return []string{"--jwt-public-key-file", writeFile(t, "rsa.pem", publicPEM(t, &rsaKey().PublicKey))}
			},
			good: func(t *testing.T, s tokenSpec) string { return sign(t, jwt.SigningMethodRS256, rsaKey(), s) },
		},
		{
			name: "JWKS, EC key by kid",
			args: func(t *testing.T) []string {
				set := jwks(t, map[string]any{"ec1": &ecKey().PublicKey, "rsa1": &rsaKey().PublicKey})
				return []string{"--jwt-jwks-file", writeFile(t, "jwks.json", set)}
			},
			good: func(t *testing.T, s tokenSpec) string {
				if s.kid == "" {
					s.kid = "ec1"
				}
				return sign(t, jwt.SigningMethodES256, ecKey(), s)
			},
			kids: true,
		},
		{
			name: "JWKS, RSA key without kid",
			args: func(t *testing.T) []string {
				set := jwks(t, map[string]any{"ec1": &ecKey().PublicKey, "rsa1": &rsaKey().PublicKey})
				return []string{"--jwt-jwks-file", writeFile(t, "jwks.json", set)}
			},
			good: func(t *testing.T, s tokenSpec) string { return sign(t, jwt.SigningMethodRS256, rsaKey(), s) },
			kids: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startHub(t, tt.args(t)...)
			good := tt.good(t, tokenSpec{subscribe: []string{"room:*"}, publish: []string{"room:*"}})
			s := subscribe(t, eventsURL(m, "room:1"), bearer(good))
			id := mustPublish(t, m, `{"topic": "room:1", "event": "e", "data": 1}`, bearer(good))
			if got := s.next(); got.ID != id {
				t.Fatalf("event %+v, want id %s", got, id)
			}
			spec := tokenSpec{subscribe: []string{"*"}}
			cases := []authCase{
				{name: "other EC key", url: eventsURL(m, "room:1"), header: bearer(sign(t, jwt.SigningMethodES256, otherKey(), spec)), status: 401, want: "ssevents: unauthorized"},
				{name: "other EC key, known kid", url: eventsURL(m, "room:1"), header: bearer(sign(t, jwt.SigningMethodES256, otherKey(), tokenSpec{subscribe: []string{"*"}, kid: "ec1"})), status: 401, want: "ssevents: unauthorized"},
				{name: "HS256 token", url: eventsURL(m, "room:1"), header: bearer(hs256(t, spec)), status: 401, want: "ssevents: unauthorized"},
				{name: "expired", url: eventsURL(m, "room:1"), header: bearer(tt.good(t, tokenSpec{subscribe: []string{"*"}, ttl: -time.Minute})), status: 401, want: "expired"},
				{name: "forbidden topic", url: eventsURL(m, "hall"), header: bearer(good), status: 403, want: `"hall"`},
			}
			if tt.kids {
				cases = append(cases, authCase{name: "unknown kid", url: eventsURL(m, "room:1"), header: bearer(tt.good(t, tokenSpec{subscribe: []string{"*"}, kid: "nope"})), status: 401, want: "ssevents: unauthorized"})
			}
			runSubscribeCases(t, cases)
		})
	}
}

// syncBuffer is a strings.Builder safe to write from a command while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitConnections waits until the hub serves n streams.
func waitConnections(t *testing.T, m *main.Main, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for m.Hub().App().Events().Connections() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d streams, want %d", m.Hub().App().Events().Connections(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPendingAuth waits until n subscribe requests wait for the hub's
// authorization (a connection slot is taken only after it).
func waitPendingAuth(t *testing.T, m *main.Main, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for m.Hub().App().Events().PendingAuthorizations() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests wait for authorization, want %d", m.Hub().App().Events().PendingAuthorizations(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCLI_publishAndTail runs `ssevents tail` and `ssevents publish`
// against a live hub that checks tokens.
func TestCLI_publishAndTail(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret)
	tok := hs256(t, tokenSpec{publish: []string{"cli:*"}, subscribe: []string{"cli:*"}})

	var tailOut, tailErr syncBuffer
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- main.RunCommand(t.Context(), []string{"tail", "--url", m.URL(), "--token", tok, "--topic", "cli:1", "--count", "2", "--json"}, &tailOut, &tailErr)
	}()
	waitConnections(t, m, 1)

	var ids []string
	for i, data := range []string{`{"n": 1}`, `"two"`} {
		var out, errOut strings.Builder
		err := main.RunCommand(t.Context(), []string{"publish", "--url", m.URL(), "--token", tok, "--topic", "cli:1", "--event", "step", "--data", data}, &out, &errOut)
		if err != nil {
			t.Fatalf("publish %d: %v (stderr %s)", i, err, errOut.String())
		}
		ids = append(ids, strings.TrimSpace(out.String()))
	}
	select {
	case err := <-tailDone:
		if err != nil {
			t.Fatalf("tail: %v (stderr %s)", err, tailErr.String())
		}
	case <-time.After(testTimeout):
		t.Fatalf("tail did not end after 2 events; output %q, stderr %q", tailOut.String(), tailErr.String())
	}
	lines := strings.Split(strings.TrimSuffix(tailOut.String(), "\n"), "\n")
	for i, want := range []string{`{"n":1}`, `"two"`} {
		var ev struct {
			Topic, Event, ID string
			Data             json.RawMessage
		}
		if len(lines) != 2 || json.Unmarshal([]byte(lines[i]), &ev) != nil || ev.Topic != "cli:1" || ev.Event != "step" || ev.ID != ids[i] || string(ev.Data) != want {
			t.Fatalf("tail --json printed %q, want events %v with data %s", tailOut.String(), ids, want)
		}
	}

	// Without a token the hub refuses both, and the commands say so.
	for _, args := range [][]string{
		{"publish", "--url", m.URL(), "--topic", "cli:1", "--event", "step"},
		{"tail", "--url", m.URL(), "--topic", "cli:1", "--count", "1"},
	} {
		var out, errOut strings.Builder
		err := main.RunCommand(t.Context(), args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error()+errOut.String(), "missing token") {
			t.Errorf("%s without a token: error %v, stderr %q; want the hub's 401 message", args[0], err, errOut.String())
		}
	}
}
