package hub_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// positionAnswer GETs /position?topic=topics with token (none when "")
// and Origin origin (none when ""), and returns the response, its body
// read.
func positionAnswer(t *testing.T, srv *httptest.Server, topics, tok, origin string) (*http.Response, map[string]string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/position?topic="+topics, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /position?topic=%s: body not JSON: %v", topics, err)
	}
	return resp, body
}

// The hub serves GET /position to whoever may subscribe to the topics, as
// a stream is authorized (a JWT's subscribe claims, public topics), and
// tells nothing to the others.
func TestPosition(t *testing.T) {
	t.Parallel()
	srv := startHub(t, hub.Config{
		JWTSecret:    testSecret,
		PublicTopics: []string{"lobby"},
		CORSOrigins:  []string{"https://app.example"},
	})
	tok := token(t, "ticket:*")
	for _, tc := range []struct {
		name, topics, tok string
		status            int
	}{
		{"allowed", "ticket:1,ticket:2", tok, http.StatusOK},
		{"public", "lobby", "", http.StatusOK},
		{"public and allowed", "lobby,ticket:1", tok, http.StatusOK},
		{"no token", "ticket:1", "", http.StatusUnauthorized},
		{"one topic denied", "ticket:1,secret:1", tok, http.StatusForbidden},
		{"bad topic", "bad%20topic", tok, http.StatusBadRequest},
		{"no topic", "", tok, http.StatusBadRequest},
	} {
		resp, body := positionAnswer(t, srv, tc.topics, tc.tok, "https://app.example")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d %v, want %d", tc.name, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status == http.StatusOK {
			if body["position"] == "" {
				t.Errorf("%s: body %v, want {\"position\": ...}", tc.name, body)
			}
		} else if _, ok := body["position"]; ok || body["error"] == "" {
			t.Errorf("%s: body %v, want an error and no position", tc.name, body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Errorf("%s: Access-Control-Allow-Origin = %q", tc.name, got)
		}
		if got := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, ssevents.PositionHeader) {
			t.Errorf("%s: Access-Control-Expose-Headers = %q, want %s", tc.name, got, ssevents.PositionHeader)
		}
	}
	if resp, _ := positionAnswer(t, srv, "lobby", "", "https://evil.example"); resp.Header.Get("Access-Control-Expose-Headers") != "" {
		t.Errorf("another origin: Access-Control-Expose-Headers = %q, want none", resp.Header.Get("Access-Control-Expose-Headers"))
	}
}
