package hub_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// fuzzHub returns a hub for cfg (logger discarded, one event of history
// per topic so that fuzzing does not pile events up), closed when f ends.
func fuzzHub(f *testing.F, cfg hub.Config) *hub.Hub {
	f.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.HistorySize = 1
	h, err := hub.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	return h
}

// jsonError returns the message of w's JSON error body, failing t when
// there is none.
func jsonError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body sse.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("status %d, body %q: not a JSON error", w.Code, w.Body)
	}
	return body.Error
}

// FuzzPublishBody posts arbitrary bodies with arbitrary Content-Types to
// POST /publish from loopback. It must never panic, answer 200 only for a
// UTF-8 JSON body sent with an accepted type, and answer anything else
// with a 4xx JSON error.
func FuzzPublishBody(f *testing.F) {
	for _, seed := range []struct{ body, contentType string }{
		{`{"topic": "a", "event": "e", "data": {"n": 1}}`, "application/json"},
		{`{"topics": ["a", "b", "a"], "event": "e", "data": [1, "x"]}`, "application/json; charset=utf-8"},
		{`{"topic": "a", "event": "e"}`, "application/x-www-form-urlencoded"},
		{"{\"topic\": \"a\", \"event\": \"e\", \"data\": \"\xff\"}", "application/json"},
		{`{"topic": "a", "event": "e", "data": "déjà ✓"}`, "application/json"},
		{`{"topic": "a", "event": "e", "data": 1} {}`, "application/json"},
		{`{"topic": "a", "event": "resync"}`, "application/json"},
		{`{"topic": "a b", "event": "e"}`, "application/json"},
		{`{"topic": 1}`, "application/json"},
		{`[]`, "application/json"},
		{``, "application/json"},
		{`topic=a&event=e`, "application/x-www-form-urlencoded"},
		{`{"topic": "a", "event": "e"}`, "text/plain"},
		{`{"topic": "a", "event": "e"}`, ""},
		{`{"topic": "a", "event": "e"}`, "application/json; charset=latin1"},
		{`{"topic": "a", "event": "e", "data": "\ud800"}`, "application/json"},
	} {
		f.Add([]byte(seed.body), seed.contentType)
	}
	const good = `{"topic": "a", "event": "e", "data": {"n": 1}}`
	h := fuzzHub(f, hub.Config{Config: ssevents.Config{MaxMessageSize: 4096}})
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader(string(body)))
		req.RemoteAddr = "127.0.0.1:4000"
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if string(body) == good && contentType == "application/json" && w.Code != http.StatusOK {
			t.Fatalf("a valid publish: status %d (%s), want 200", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			var answer sse.PublishResponse
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.ID == "" {
				t.Fatalf("200 with body %q, want {\"id\": ...}", w.Body)
			}
			if !utf8.Valid(body) || !json.Valid(body) {
				t.Fatalf("published a body that is not UTF-8 JSON: %q", body)
			}
			ct := strings.ToLower(contentType)
			if !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
				t.Fatalf("published a body sent as %q", contentType)
			}
			return
		}
		msg := jsonError(t, w)
		if w.Code < 400 || w.Code > 499 {
			t.Fatalf("status %d (%s), want 200 or a 4xx", w.Code, msg)
		}
	})
}

// jwtShape finds the candidate tokens in a string: three base64url parts.
var jwtShape = regexp.MustCompile(`[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// carriesValidToken reports whether any of the inputs holds a token that
// testSecret signed, unexpired, granting the topic "private": the only
// thing that may open a stream. (Tokens of earlier fuzzing runs, kept in
// the fuzz cache, are such tokens too: they are judged by what they are,
// not by being this run's.)
func carriesValidToken(inputs ...string) bool {
	for _, in := range inputs {
		if u, err := url.QueryUnescape(in); err == nil {
			in += " " + u
		}
		for _, cand := range jwtShape.FindAllString(in, -1) {
			var c hub.Claims
			tok, err := jwt.ParseWithClaims(cand, &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
			if err == nil && tok.Valid && slices.Contains(c.SSE.Subscribe, "private") {
				return true
			}
		}
	}
	return false
}

// FuzzSubscriberToken sends arbitrary Authorization headers, Cookie
// headers and queries (the three places a subscriber's token may come
// from) to the SSE endpoint of a hub that checks JWTs. It must never
// panic; it answers 401 with a Bearer challenge, 400 or 403 with a JSON
// error, or 200 only when one of the three carries the valid token.
func FuzzSubscriberToken(f *testing.F) {
	claims := hub.Claims{SSE: hub.TopicClaims{Subscribe: []string{"private"}}}
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	valid, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][3]string{
		{"Bearer " + valid, "", ""},
		{"bearer   " + valid + " ", "", ""},
		{"", hub.TokenCookie + "=" + valid, ""},
		{"", "other=1; " + hub.TokenCookie + "=" + valid, ""},
		{"", "", hub.TokenQueryParam + "=" + valid},
		{"", "", hub.TokenQueryParam + "=" + url.QueryEscape(valid)},
		{"Bearer", "", ""},
		{"Bearer a.b.c", hub.TokenCookie + "=x", hub.TokenQueryParam + "=y"},
		{"Basic dXNlcjpwYXNz", "", ""},
		{"Bearer " + valid[:len(valid)-2], "", ""},
		{"", hub.TokenCookie + `="` + valid + `"`, ""},
		{"", "", hub.TokenQueryParam + "=%zz&topic=other"},
		{"Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	h := fuzzHub(f, hub.Config{JWTSecret: testSecret})
	f.Fuzz(func(t *testing.T, authorization, cookie, query string) {
		// A canceled request: a stream that is allowed ends at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
		req.URL.RawQuery = "topic=private&" + query
		req.Header.Set("Authorization", authorization)
		req.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if authorization == "Bearer "+valid && query == "" && w.Code != http.StatusOK {
			t.Fatalf("the valid token in the header: status %d (%s), want 200", w.Code, w.Body)
		}
		switch w.Code {
		case http.StatusOK:
			if !carriesValidToken(authorization, cookie, query) {
				t.Fatalf("200 without a valid token: Authorization %q, Cookie %q, query %q", authorization, cookie, query)
			}
		case http.StatusUnauthorized:
			jsonError(t, w)
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
		case http.StatusBadRequest, http.StatusForbidden:
			jsonError(t, w)
		default:
			t.Fatalf("status %d (%s), want 200, 400, 401 or 403", w.Code, w.Body)
		}
	})
}
