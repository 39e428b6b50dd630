package ssevents_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// An Authorizer that cannot decide now says so with Unavailable: 503 with
// Retry-After and its message. Any other error, one wrapping
// sse.ErrUnavailable included, stays a 500 that shows nothing of it.
func TestAuthorize_unavailable(t *testing.T) {
	t.Parallel()
	keysLoading := errors.New("ssevents: unavailable: the keys are loading; retry shortly")
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		want       string // the JSON error
		retryAfter string
	}{
		{"Unavailable", ssevents.Unavailable(keysLoading), http.StatusServiceUnavailable, keysLoading.Error(), "5"},
		{"Unavailable, wrapped", fmt.Errorf("app: %w", ssevents.Unavailable(keysLoading)), http.StatusServiceUnavailable, "app: " + keysLoading.Error(), "5"},
		{"a broker's ErrUnavailable is a failure", fmt.Errorf("%w: redis at 10.0.0.5:6379", sse.ErrUnavailable), http.StatusInternalServerError, "ssevents: internal error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newServer(t, ssevents.Config{Authorize: func(*http.Request, []string) error { return tc.err }})
			resp := get(t, srv.URL+"/events?topic=a", nil)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := errorBody(t, resp); got != tc.want {
				t.Errorf("error %q, want %q", got, tc.want)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
		})
	}
	err := ssevents.Unavailable(keysLoading)
	if !errors.Is(err, sse.ErrUnavailable) || !errors.Is(err, keysLoading) || sse.HTTPStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("Unavailable(err) = %v: want errors.Is sse.ErrUnavailable and err, status 503", err)
	}
	if ssevents.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) is not nil")
	}
}
