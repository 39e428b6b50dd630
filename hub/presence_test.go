package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// memberClaims are a token's claims with a profile claim for
// SSE_PRESENCE_INFO_CLAIM.
type memberClaims struct {
	hub.Claims
	Profile any `json:"profile,omitempty"`
}

// memberToken signs a token for user that may subscribe to patterns, with
// profile as its "profile" claim.
func memberToken(t *testing.T, user string, profile any, patterns ...string) string {
	t.Helper()
	c := memberClaims{Claims: hub.Claims{SSE: hub.TopicClaims{Subscribe: patterns}}, Profile: profile}
	c.Subject = user
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// presenceHub serves a hub that tracks "ticket:*" and "lobby", with
// "lobby" public and the info in the "profile" claim.
func presenceHub(t *testing.T) *httptest.Server {
	t.Helper()
	return startHub(t, hub.Config{
		Config:            ssevents.Config{Presence: []string{"ticket:*", "lobby"}},
		JWTSecret:         testSecret,
		PublicTopics:      []string{"lobby"},
		PresenceInfoClaim: "profile",
	})
}

// presenceAnswer GETs /presence?topic=topic with header and returns the
// status and body.
func presenceAnswer(t *testing.T, srv *httptest.Server, topic string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/presence?topic="+topic, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitMembers waits until topic's snapshot, read with header, has users
// users and returns it.
func waitMembers(t *testing.T, srv *httptest.Server, topic string, header http.Header, users int) sse.PresenceSnapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := presenceAnswer(t, srv, topic, header)
		var snap sse.PresenceSnapshot
		if status == http.StatusOK && json.Unmarshal([]byte(body), &snap) == nil && snap.Users == users {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /presence?topic=%s: %d %s, want %d users", topic, status, body, users)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openWith opens GET /events?topic=topic with header until the test ends.
func openWith(t *testing.T, srv *httptest.Server, topic string, header http.Header) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?topic="+topic, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events?topic=%s: status %d", topic, resp.StatusCode)
	}
}

// The member is the token's sub with the info claim; those who may not
// subscribe to a topic get 403 and no name; a public topic lists a
// subscriber with a valid token and counts one without.
func TestPresence_tokenIdentity(t *testing.T) {
	t.Parallel()
	srv := presenceHub(t)
	ann := memberToken(t, "ann", map[string]string{"name": "Ann"}, "ticket:1")
	openWith(t, srv, "ticket:1", bearer(ann))
	snap := waitMembers(t, srv, "ticket:1", bearer(ann), 1)
	if m := snap.Members[0]; m.User != "ann" || string(m.Info) != `{"name":"Ann"}` || m.Connections != 1 {
		t.Errorf("member = %+v, want ann with info {\"name\":\"Ann\"}", m)
	}
	for _, h := range []http.Header{nil, bearer(memberToken(t, "eve", nil, "ticket:2"))} {
		status, body := presenceAnswer(t, srv, "ticket:1", h)
		if status == http.StatusOK || strings.Contains(body, "ann") || !strings.Contains(body, `"error"`) {
			t.Errorf("GET /presence?topic=ticket:1 by someone who may not subscribe: %d %s, want 401 or 403 without the name", status, body)
		}
		if h != nil && status != http.StatusForbidden {
			t.Errorf("GET /presence?topic=ticket:1 with a token for ticket:2: %d, want 403", status)
		}
	}
	// A profile that is not an object is dropped; the member stays.
	openWith(t, srv, "lobby", bearer(memberToken(t, "bob", "not an object", "x")))
	openWith(t, srv, "lobby", nil)
	openWith(t, srv, "lobby", bearer("not-a-token"))
	snap = waitMembers(t, srv, "lobby", nil, 1)
	if snap.Connections != 3 || len(snap.Members) != 1 || snap.Members[0].User != "bob" || string(snap.Members[0].Info) != "null" {
		t.Errorf("lobby = %+v, want bob (info null) listed and 3 connections", snap)
	}
	if status, body := presenceAnswer(t, srv, "untracked", bearer(memberToken(t, "ann", nil, "untracked"))); status != http.StatusNotFound {
		t.Errorf("GET /presence?topic=untracked: %d %s, want 404", status, body)
	}
}
