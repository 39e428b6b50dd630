package hub_test

import (
	"encoding/json"
	"io"
	"log/slog"
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
	"github.com/ssevents/ssevents/sse"
)

const testSecret = "a-test-secret-of-at-least-32-bytes!"

// webhookApp is an application's authorization webhook that records the
// topics of each call. Its answer depends on the session cookie.
type webhookApp struct {
	url   string
	mu    sync.Mutex
	calls [][]string
}

func startWebhookApp(t *testing.T) *webhookApp {
	t.Helper()
	a := &webhookApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Topics []string `json:"topics"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad webhook request", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.calls = append(a.calls, body.Topics)
		a.mu.Unlock()
		c, _ := r.Cookie("session")
		switch {
		case c == nil:
			w.WriteHeader(http.StatusUnauthorized)
		case c.Value == "allow":
			_, _ = io.WriteString(w, `{"allow": true}`)
		case c.Value == "only-a":
			_, _ = io.WriteString(w, `{"allow": true, "topics": ["a"]}`)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// takeCalls returns the webhook calls so far and forgets them.
func (a *webhookApp) takeCalls() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls
	a.calls = nil
	return c
}

// startHub serves a hub made from cfg; both end with the test.
func startHub(t *testing.T, cfg hub.Config) *httptest.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return srv
}

// answer is what a subscribe request was answered, before any event.
type answer struct {
	status    int
	err       string // the JSON error, when not 200
	challenge string // WWW-Authenticate
}

// subscribeAnswer opens GET /events?topic=topics and returns the answer,
// closing a stream as soon as it has started.
func subscribeAnswer(t *testing.T, srv *httptest.Server, topics string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/events?topic="+topics, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if a.status != http.StatusOK {
		var body sse.ErrorBody
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("status %d without a JSON error: %v", a.status, err)
		}
		a.err = body.Error
	}
	return a
}

// token signs an HS256 token that may subscribe to patterns.
func token(t *testing.T, patterns ...string) string {
	t.Helper()
	claims := hub.Claims{SSE: hub.TopicClaims{Subscribe: patterns}}
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Minute))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkAnswer compares got with the status, error text and challenge
// wanted: every 401 carries the Bearer challenge, nothing else does.
func checkAnswer(t *testing.T, got answer, status int, want string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d (%q), want %d", got.status, got.err, status)
	}
	if !strings.Contains(got.err, want) {
		t.Errorf("error %q does not say %q", got.err, want)
	}
	if (status == http.StatusUnauthorized) != strings.HasPrefix(got.challenge, "Bearer") {
		t.Errorf("status %d with WWW-Authenticate %q", status, got.challenge)
	}
}

// TestAuthorize_jwtWebhookAndPublicTopics runs the hub's one authorizer,
// with public topics, a JWT key and a webhook, and checks the answer and
// the webhook's calls: none when public topics or the token decide, one
// per request otherwise, with every topic that is not public.
func TestAuthorize_jwtWebhookAndPublicTopics(t *testing.T) {
	t.Parallel()
	app := startWebhookApp(t)
	srv := startHub(t, hub.Config{
		JWTSecret: testSecret, AuthorizeURL: app.url, AuthorizeCacheTTL: -1,
		PublicTopics: []string{"news", "public:*"},
	})
	tok := token(t, "jwt:*")
	session := func(v string) http.Header { return http.Header{"Cookie": {"session=" + v}} }
	withToken := func(h http.Header) http.Header { h.Set("Authorization", "Bearer "+tok); return h }
	tests := []struct {
		name   string
		topics string
		header http.Header
		status int
		want   string     // in the error
		calls  [][]string // webhook calls
	}{
		{"public only, no credentials", "news,public:x", nil, 200, "", nil},
		{"public only, bad token", "news", http.Header{"Authorization": {"Bearer x"}}, 200, "", nil},
		{"token grants all", "news,jwt:1,jwt:2", withToken(http.Header{}), 200, "", nil},
		{"webhook asked once about the non-public topics", "news,a,b", session("allow"), 200, "", [][]string{{"a", "b"}}},
		{"first denied topic named", "news,a,b,c", session("only-a"), 403, `topic "b"`, [][]string{{"a", "b", "c"}}},
		{"token and webhook combine; the webhook is asked about what the token did not grant", "jwt:1,a", withToken(session("only-a")), 200, "", [][]string{{"a"}}},
		{"denial after the token's topics", "jwt:1,a,b", withToken(session("only-a")), 403, `topic "b"`, [][]string{{"a", "b"}}},
		{"webhook denies all", "news,a", session("deny"), 403, `topic "a"`, [][]string{{"a"}}},
		{"webhook does not know the credentials", "news,a", nil, 401, "did not recognize the credentials", [][]string{{"a"}}},
		{"bad token is 401 before the webhook", "a", http.Header{"Authorization": {"Bearer x"}, "Cookie": {"session=allow"}}, 401, "malformed", nil},
	}
	for _, tt := range tests { // not parallel: the webhook's calls are shared
		t.Run(tt.name, func(t *testing.T) {
			checkAnswer(t, subscribeAnswer(t, srv, tt.topics, tt.header), tt.status, tt.want)
			if got := app.takeCalls(); !slices.EqualFunc(got, tt.calls, slices.Equal) {
				t.Errorf("webhook calls %q, want %q", got, tt.calls)
			}
		})
	}
}

// TestAuthorize_jwtOnly checks the token's answers without a webhook.
func TestAuthorize_jwtOnly(t *testing.T) {
	t.Parallel()
	srv := startHub(t, hub.Config{JWTSecret: testSecret, PublicTopics: []string{"news"}})
	tok := http.Header{"Authorization": {"Bearer " + token(t, "user:7", "workspace:42:*")}}
	tests := []struct {
		name   string
		topics string
		header http.Header
		status int
		want   string
	}{
		{"granted", "user:7,workspace:42:a", tok, 200, ""},
		{"public without a token", "news", nil, 200, ""},
		{"first topic not granted is named", "user:7,user:8,user:9", tok, 403, `the token may not subscribe to topic "user:8"`},
		{"no token", "news,user:7", nil, 401, "missing token"},
		{"token in the query", "user:7&access_token=" + token(t, "user:7"), nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkAnswer(t, subscribeAnswer(t, srv, tt.topics, tt.header), tt.status, tt.want)
		})
	}
}

// TestAuthorize_userAuthorizerAfterTheHub checks that the core
// Config.Authorize is asked once, with every topic, only after the hub's
// checks allowed them, and that its 401 carries the Bearer challenge.
func TestAuthorize_userAuthorizerAfterTheHub(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		calls [][]string
	)
	srv := startHub(t, hub.Config{
		Config: ssevents.Config{Authorize: func(r *http.Request, topics []string) error {
			mu.Lock()
			calls = append(calls, slices.Clone(topics))
			mu.Unlock()
			if r.Header.Get("X-Tenant") == "" {
				return sse.ErrUnauthorized
			}
			return nil
		}},
		JWTSecret: testSecret,
	})
	tok := "Bearer " + token(t, "a", "b")
	tests := []struct {
		name   string
		topics string
		header http.Header
		status int
		want   string
		calls  [][]string
	}{
		{"both allow", "a,b", http.Header{"Authorization": {tok}, "X-Tenant": {"t"}}, 200, "", [][]string{{"a", "b"}}},
		{"the hub denies first", "a,c", http.Header{"Authorization": {tok}, "X-Tenant": {"t"}}, 403, `topic "c"`, nil},
		{"the user's 401 gets the challenge", "a", http.Header{"Authorization": {tok}}, 401, "unauthorized", [][]string{{"a"}}},
	}
	for _, tt := range tests { // not parallel: calls are shared
		t.Run(tt.name, func(t *testing.T) {
			checkAnswer(t, subscribeAnswer(t, srv, tt.topics, tt.header), tt.status, tt.want)
			mu.Lock()
			got := calls
			calls = nil
			mu.Unlock()
			if !slices.EqualFunc(got, tt.calls, slices.Equal) {
				t.Errorf("Authorize calls %q, want %q", got, tt.calls)
			}
		})
	}
}
