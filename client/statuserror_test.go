package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// TestStatusErrorText: a StatusError says "ssevents: " once, then what
// the server said, and matches the sentinel the server answered with.
func TestStatusErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    client.StatusError
		want   string
		wantIs error
	}{
		{"ssevents message", client.StatusError{StatusCode: 400, Message: `ssevents: invalid topic: "a b" has the character ' '`},
			`ssevents: invalid topic: "a b" has the character ' ' (400)`, sse.ErrInvalidTopic},
		{"bare sentinel", client.StatusError{StatusCode: 429, Message: "ssevents: rate limited"}, "ssevents: rate limited (429)", sse.ErrRateLimited},
		{"unauthorized", client.StatusError{StatusCode: 401, Message: "ssevents: unauthorized: token expired"},
			"ssevents: unauthorized: token expired (401)", sse.ErrUnauthorized},
		{"too many connections", client.StatusError{StatusCode: 503, Message: "ssevents: too many connections: 10 open"},
			"ssevents: too many connections: 10 open (503)", sse.ErrTooManyConnections},
		{"other server", client.StatusError{StatusCode: 404, Message: "404 page not found"}, "ssevents: server answered 404: 404 page not found", nil},
		{"outcome unknown", client.StatusError{StatusCode: 504, Message: "ssevents: publish outcome unknown: the connection to redis failed"},
			"ssevents: publish outcome unknown: the connection to redis failed (504)", sse.ErrOutcomeUnknown},
		{"proxy 504", client.StatusError{StatusCode: 504, Message: "<html>gateway timeout"}, "ssevents: server answered 504: <html>gateway timeout", sse.ErrOutcomeUnknown},
		{"proxy 503", client.StatusError{StatusCode: 503, Message: "<html>bad gateway"}, "ssevents: server answered 503: <html>bad gateway", sse.ErrUnavailable},
		{"no message", client.StatusError{StatusCode: 403}, "ssevents: server answered 403: Forbidden", sse.ErrForbidden},
		{"status does not match the message", client.StatusError{StatusCode: 500, Message: "ssevents: invalid topic"},
			"ssevents: invalid topic (500)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := &tt.err
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := errors.Unwrap(err); got != tt.wantIs { //nolint:errorlint // Unwrap must return exactly this error
				t.Errorf("Unwrap() = %v, want %v", got, tt.wantIs)
			}
		})
	}
}

// TestClientErrorsAgainstHub: the errors of a real hub's answers carry one
// prefix and match the server's sentinels.
func TestClientErrorsAgainstHub(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{})
	c := newClient(t, client.Config{URL: srv.URL})
	_, err := c.Publish(t.Context(), "a b", "e", 1)
	if !errors.Is(err, sse.ErrInvalidTopic) {
		t.Errorf("Publish on %q = %v, want it to match sse.ErrInvalidTopic", "a b", err)
	}
	if msg := err.Error(); strings.Count(msg, "ssevents:") != 1 || !strings.HasPrefix(msg, "ssevents: invalid topic: ") || !strings.HasSuffix(msg, " (400)") {
		t.Errorf("Publish error = %q, want one prefix, the server's message and (400)", msg)
	}
	err = c.Subscribe(t.Context(), []string{"a b"}, func(client.Event) error { return nil })
	if !errors.Is(err, sse.ErrInvalidTopic) || strings.Count(err.Error(), "ssevents:") != 1 {
		t.Errorf("Subscribe to %q = %v, want one prefix and sse.ErrInvalidTopic", "a b", err)
	}
	down := newClient(t, client.Config{URL: "http://127.0.0.1:1", PublishRetries: -1})
	_, err = down.Publish(t.Context(), "t", "e", 1)
	if err == nil || strings.Count(err.Error(), "ssevents:") != 1 || strings.Contains(err.Error(), "publish: ") {
		t.Errorf("Publish to a closed port = %v, want one prefix and the request's error", err)
	}
}

// TestClientHeartbeats: named heartbeat events are skipped, unless the
// subscription asks for them with Heartbeats.
func TestClientHeartbeats(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("event: heartbeat\ndata: {\"time\":\"2026-01-02T03:04:05Z\"}\n\nid: 1-0\nevent: e\ndata: 1\n\n"))
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name string
		opts []client.SubscribeOption
		want []client.Kind
	}{
		{"skipped", nil, []client.Kind{client.KindEvent}},
		{"asked for", []client.SubscribeOption{client.Heartbeats()}, []client.Kind{client.KindHeartbeat, client.KindEvent}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, client.Config{URL: srv.URL})
			var got []client.Kind
			errDone := errors.New("done")
			err := c.Subscribe(t.Context(), []string{"t"}, func(ev client.Event) error {
				got = append(got, ev.Kind)
				if ev.Kind == client.KindHeartbeat && (ev.Name != "heartbeat" || ev.ID != "" || ev.Topic != "t") {
					t.Errorf("heartbeat = %+v", ev)
				}
				if ev.Kind == client.KindEvent {
					return errDone
				}
				return nil
			}, tt.opts...)
			if !errors.Is(err, errDone) {
				t.Fatalf("Subscribe = %v", err)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Errorf("kinds %v, want %v", got, tt.want)
			}
			if client.KindHeartbeat.String() != "heartbeat" {
				t.Errorf("KindHeartbeat = %q", client.KindHeartbeat)
			}
		})
	}
}
