package jsclient_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
)

// TestClient_bearerHeader: the token from getToken goes in the
// Authorization header (not in the URL, not in a cookie), and the stream
// it opens delivers events with their topic.
func TestClient_bearerHeader(t *testing.T) {
	r := newRig(t, hubConfig(true), func(int) time.Duration { return time.Hour })
	p := browsertest.Shared(t).NewPage(t, r.page("topic=orders&auth=1&shared=false"))
	waitOpen(p)
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d SSE requests, want 1", len(reqs))
	}
	q := reqs[0]
	if a := q.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ey") || q.URL.Query().Has("access_token") || q.Header.Get("Cookie") != "" {
		t.Errorf("Authorization %q, query %q, cookie %q: want the token in the header only", a, q.URL.RawQuery, q.Header.Get("Cookie"))
	}
	id := r.publish(t, "orders", "order_placed", map[string]int{"total": 12})
	p.WaitFor("the event arrives", fmt.Sprintf(`window.got.some((e) => e.id === %q && e.topic === "orders" && e.data.total === 12)`, id), 5*time.Second)
}

// TestClient_tokenRefreshOnTokenExpired: the first token expires, the hub
// ends the stream with token_expired, the client asks getToken again,
// reconnects with the new token and resumes: the events before and after
// arrive once each.
func TestClient_tokenRefreshOnTokenExpired(t *testing.T) {
	r := newRig(t, hubConfig(true), func(n int) time.Duration {
		if n == 1 {
			return 2 * time.Second
		}
		return time.Hour
	})
	p := browsertest.Shared(t).NewPage(t, r.page("topic=orders&auth=1"))
	waitOpen(p)
	before := r.publish(t, "orders", "n", 1)
	p.WaitFor("token_expired", `window.got.some((e) => e.event === "token_expired")`, 8*time.Second)
	after := r.publish(t, "orders", "n", 2)
	p.WaitFor("the event after the refresh", fmt.Sprintf(`window.got.some((e) => e.id === %q)`, after), 5*time.Second)
	if got := ids(p, "n"); !slices.Equal(got, []string{before, after}) {
		t.Errorf("events %q, want %q once each", got, []string{before, after})
	}
	if n := browsertest.Eval[int](p, `window.tokens`); n != 2 || r.tokenCount() != 2 {
		t.Errorf("getToken called %d times (%d tokens minted), want 2", n, r.tokenCount())
	}
	reqs := r.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") == reqs[1].Header.Get("Authorization") || reqs[1].Header.Get("Last-Event-ID") == "" {
		t.Fatalf("%d SSE requests, want 2: the second with a new token and Last-Event-ID", len(reqs))
	}
}
