package hub_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/sse"
)

// TestMain fails the package's tests if a goroutine outlives them: the
// hub's streams, broker and webhook client must all end with Close.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestHub_closeLeavesNothing runs a hub with a webhook through a stream
// and a publish, then closes everything; TestMain checks for leaks.
func TestHub_closeLeavesNothing(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"allow": true}`)
	}))
	defer app.Close()
	h, err := hub.New(hub.Config{
		Config:       ssevents.Config{Logger: slog.New(slog.DiscardHandler)},
		AuthorizeURL: app.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?topic=t", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: status %d", resp.StatusCode)
	}
	if _, err := h.App().Publish(ctx, "t", "e", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	var got []string
	for len(got) < 3 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %q)", err, got)
		}
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "event:") || strings.HasPrefix(line, "data:") || strings.HasPrefix(line, "id:") {
			got = append(got, line)
		}
	}
	if got[1] != "event: e" || got[2] != `data: {"n":1}` {
		t.Fatalf("stream %q", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.ReadString('\n'); err == nil {
		// Close ends the stream: what follows is the end of the body.
		if _, err := rd.ReadString('\n'); err == nil {
			t.Fatal("the stream goes on after Close")
		}
	}
	srv.Client().CloseIdleConnections()
}

func TestNew_invalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  hub.Config
		want string
	}{
		{"short secret", hub.Config{JWTSecret: "x"}, "JWTSecret is 1 bytes"},
		{"webhook scheme", hub.Config{AuthorizeURL: "file:///etc/passwd"}, "AuthorizeURL"},
		{"public pattern", hub.Config{PublicTopics: []string{"a b*"}}, "PublicTopics"},
		{"origin with path", hub.Config{CORSOrigins: []string{"https://a.example/x"}}, "CORSOrigins"},
		{"path taken", hub.Config{Config: ssevents.Config{Path: "/publish"}}, "Path"},
		{"position path taken", hub.Config{Config: ssevents.Config{Path: "/position/"}}, "/position"},
		{"core limit", hub.Config{Config: ssevents.Config{MaxConnections: -1}}, "MaxConnections"},
		{"negative leeway", hub.Config{JWTLeeway: -time.Second}, "JWTLeeway is -1s"},
		{"webhook timeout above its range", hub.Config{AuthorizeTimeout: 2 * time.Minute}, "AuthorizeTimeout is 2m0s"},
		{"cache above its range", hub.Config{AuthorizeCacheTTL: 2 * time.Hour}, "AuthorizeCacheTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := hub.New(tt.cfg)
			if err == nil {
				h.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), sse.ErrInvalidConfig.Error()) {
				t.Fatalf("error %q, want ErrInvalidConfig naming %s", err, tt.want)
			}
		})
	}
}

func ExampleMatchTopic() {
	for _, topic := range []string{"workspace:42:comments", "workspace:42:a:b", "workspace:420:x"} {
		fmt.Println(topic, hub.MatchTopic("workspace:42:*", topic))
	}
	// Output:
	// workspace:42:comments true
	// workspace:42:a:b true
	// workspace:420:x false
}

// ExampleNew runs a hub that checks HS256 tokens and publishes through its
// HTTP API, as an application in any language would.
func ExampleNew() {
	h, err := hub.New(hub.Config{
		Config:    ssevents.Config{Logger: slog.New(slog.DiscardHandler)},
		JWTSecret: "an-example-secret-of-32-bytes-at-least",
	})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The application's backend signs a token that may publish to its
	// workspace (`ssevents token` does the same from a shell).
	claims := hub.Claims{SSE: hub.TopicClaims{Publish: []string{"workspace:42:*"}}}
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Minute))
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("an-example-secret-of-32-bytes-at-least"))

	for _, topic := range []string{"workspace:42:comments", "workspace:7:comments"} {
		body := `{"topic": "` + topic + `", "event": "comment.created", "data": {"id": 1}}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/publish", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(topic, resp.StatusCode)
	}
	// Output:
	// workspace:42:comments 200
	// workspace:7:comments 403
}
