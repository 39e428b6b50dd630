package hub_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/hub"
)

// webhookAnswer is one answer a test webhook gives.
type webhookAnswer struct {
	status int
	body   string
	delay  time.Duration // before answering
	header http.Header
}

// startAnsweringWebhook serves a webhook that gives the same answer to
// every call, and a hub asking it (no cache, a 1 s timeout).
func startAnsweringWebhook(t *testing.T, a webhookAnswer) *hub.Hub {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range a.header {
			w.Header()[k] = v
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(app.Close)
	return newHub(t, hub.Config{AuthorizeURL: app.URL, AuthorizeTimeout: time.Second, AuthorizeCacheTTL: -1})
}

// denials reads sse_webhook_denials_total{reason} from the hub's
// Prometheus endpoint.
func denials(t *testing.T, h *hub.Hub, reason string) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.App().Metrics().PrometheusHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
	prefix := fmt.Sprintf(`sse_webhook_denials_total{reason=%q} `, reason)
	for line := range strings.Lines(w.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return v
		}
	}
	t.Fatalf("no %s in the metrics", prefix)
	return ""
}

// TestWebhook_decisionTable checks every shape of webhook answer: only a
// 2xx JSON object with "allow": true (and, when "topics" is present, every
// topic asked about) allows; every denial is counted by its reason.
func TestWebhook_decisionTable(t *testing.T) {
	t.Parallel()
	ok := http.StatusOK
	big := `{"allow": true, "pad": "` + strings.Repeat("x", 64<<10) + `"}`
	tests := []struct {
		name   string
		answer webhookAnswer
		status int    // of the subscribe
		want   string // in its error
		reason string // counted denial, "" for none
	}{
		{"allow true", webhookAnswer{status: ok, body: `{"allow": true}`}, 200, "", ""},
		{"allow true, 201", webhookAnswer{status: http.StatusCreated, body: `{"allow": true}`}, 200, "", ""},
		{"allow true listing every topic", webhookAnswer{status: ok, body: `{"allow": true, "topics": ["b", "a"]}`}, 200, "", ""},
		{"allow true with expires_in", webhookAnswer{status: ok, body: `{"allow": true, "expires_in": 60}`}, 200, "", ""},
		{"allow false", webhookAnswer{status: ok, body: `{"allow": false}`}, 403, `topic "a"`, "not_allowed"},
		{"topics lacks one", webhookAnswer{status: ok, body: `{"allow": true, "topics": ["a"]}`}, 403, `topic "b"`, "topics"},
		{"topics empty", webhookAnswer{status: ok, body: `{"allow": true, "topics": []}`}, 403, `topic "a"`, "topics"},
		{"empty body 200", webhookAnswer{status: ok}, 403, "did not answer", "not_json"},
		{"empty body 204", webhookAnswer{status: http.StatusNoContent}, 403, "did not answer", "not_json"},
		{"not JSON", webhookAnswer{status: ok, body: `<html>ok</html>`}, 403, "did not answer", "not_json"},
		{"authorized false", webhookAnswer{status: ok, body: `{"authorized": false}`}, 403, "did not answer", "shape"},
		{"ok false", webhookAnswer{status: ok, body: `{"ok": false}`}, 403, "did not answer", "shape"},
		{"null", webhookAnswer{status: ok, body: `null`}, 403, "did not answer", "shape"},
		{"empty object", webhookAnswer{status: ok, body: `{}`}, 403, "did not answer", "shape"},
		{"true", webhookAnswer{status: ok, body: `true`}, 403, "did not answer", "shape"},
		{"array", webhookAnswer{status: ok, body: `[{"allow": true}]`}, 403, "did not answer", "shape"},
		{"allow as a string", webhookAnswer{status: ok, body: `{"allow": "true"}`}, 403, "did not answer", "shape"},
		{"allow as a number", webhookAnswer{status: ok, body: `{"allow": 1}`}, 403, "did not answer", "shape"},
		{"topics not a list", webhookAnswer{status: ok, body: `{"allow": true, "topics": "a,b"}`}, 403, "did not answer", "shape"},
		{"expires_in not a number", webhookAnswer{status: ok, body: `{"allow": true, "expires_in": "60"}`}, 403, "did not answer", "shape"},
		{"expires_in zero", webhookAnswer{status: ok, body: `{"allow": true, "expires_in": 0}`}, 403, "did not answer", "shape"},
		{"body over the limit", webhookAnswer{status: ok, body: big}, 403, "did not answer", "too_large"},
		{"401", webhookAnswer{status: http.StatusUnauthorized, body: `{"allow": true}`}, 401, "did not recognize the credentials", "status"},
		{"403", webhookAnswer{status: http.StatusForbidden, body: `{"allow": true}`}, 403, `topic "a"`, "status"},
		{"500 with allow true", webhookAnswer{status: http.StatusInternalServerError, body: `{"allow": true}`}, 403, "did not answer", "status"},
		{"404 with allow true", webhookAnswer{status: http.StatusNotFound, body: `{"allow": true}`}, 403, "did not answer", "status"},
		{"redirect", webhookAnswer{status: http.StatusFound, header: http.Header{"Location": {"/elsewhere"}}, body: `{"allow": true}`}, 403, "did not answer", "redirect"},
		{"timeout", webhookAnswer{status: ok, body: `{"allow": true}`, delay: 10 * time.Second}, 403, "did not answer", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startAnsweringWebhook(t, tt.answer)
			req := httptest.NewRequest(http.MethodGet, "/events?topic=a,b", nil)
			req.Header.Set("Cookie", "session=1")
			if tt.status == http.StatusOK {
				if resp := subscribe(t, h, "/events?topic=a,b"); resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
			} else {
				wantAnswer(t, serve(t, h, req, "192.0.2.1:1234"), tt.status, tt.want)
			}
			for _, r := range []string{"status", "not_json", "shape", "not_allowed", "topics", "too_large", "timeout", "redirect", "error"} {
				want := "0"
				if r == tt.reason {
					want = "1"
				}
				if got := denials(t, h, r); got != want {
					t.Errorf("sse_webhook_denials_total{reason=%q} = %s, want %s", r, got, want)
				}
			}
		})
	}
}

// TestWebhook_unreachable checks that a webhook that cannot be reached
// denies, counted as reason "error".
func TestWebhook_unreachable(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.NotFoundHandler())
	url := app.URL
	app.Close()
	h := newHub(t, hub.Config{AuthorizeURL: url, AuthorizeCacheTTL: -1})
	wantAnswer(t, serve(t, h, httptest.NewRequest(http.MethodGet, "/events?topic=a", nil), "192.0.2.1:1234"), 403, "did not answer")
	if got := denials(t, h, "error"); got != "1" {
		t.Errorf(`denials{reason="error"} = %s, want 1`, got)
	}
}
