package ssevents_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// TestAuthorize_oncePerRequest checks that the hook is asked once per
// request, with every topic, validated and without repeats, in order.
func TestAuthorize_oncePerRequest(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		calls [][]string
	)
	_, srv := newServer(t, ssevents.Config{Authorize: func(r *http.Request, topics []string) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, slices.Clone(topics))
		if slices.Contains(topics, "secret") {
			return ssevents.Forbidden("secret")
		}
		return nil
	}})
	record := func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		got := calls
		calls = nil
		return got
	}
	tests := []struct {
		name   string
		query  string
		status int
		calls  [][]string
	}{
		{"several topics", "topic=b,a,b&topic=c", 200, [][]string{{"b", "a", "c"}}},
		{"denied", "topic=a,secret,c", 403, [][]string{{"a", "secret", "c"}}},
		{"invalid topic: not asked", "topic=a,bad%20topic", 400, nil},
		{"no topic: not asked", "", 400, nil},
	}
	for _, tt := range tests { // not parallel: they share calls
		t.Run(tt.name, func(t *testing.T) {
			if tt.status == http.StatusOK {
				subscribe(t, srv.URL+"/events?"+tt.query, nil).close()
			} else {
				resp := get(t, srv.URL+"/events?"+tt.query, nil)
				if resp.StatusCode != tt.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
				}
				errorBody(t, resp)
			}
			if got := record(); !slices.EqualFunc(got, tt.calls, slices.Equal) {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
		})
	}
}

// TestAuthorize_answers checks how each answer of the hook is served.
func TestAuthorize_answers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		status    int
		want      string // in the JSON error
		challenge string // WWW-Authenticate
	}{
		{"allow", nil, 200, "", ""},
		{"unauthorized", fmt.Errorf("%w: log in first", sse.ErrUnauthorized), 401, "ssevents: unauthorized: log in first", ""},
		{"unauthorized with challenge", ssevents.WithChallenge(fmt.Errorf("%w: no token", sse.ErrUnauthorized), `Bearer realm="t"`), 401, "no token", `Bearer realm="t"`},
		{"forbidden topic", ssevents.Forbidden("b"), 403, `ssevents: forbidden: not allowed to subscribe to topic "b"`, ""},
		{"own forbidden", fmt.Errorf("%w: plan expired for topic %q", sse.ErrForbidden, "b"), 403, `plan expired for topic "b"`, ""},
		{"challenge on a 403 is not sent", ssevents.WithChallenge(ssevents.Forbidden("a"), "Bearer"), 403, `topic "a"`, ""},
		{"failure", errors.New("database password is hunter2"), 500, "ssevents: internal error", ""},
		{"failure mapping to 400", fmt.Errorf("lookup: %w", sse.ErrInvalidTopic), 500, "ssevents: internal error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, srv := newServer(t, ssevents.Config{Authorize: func(*http.Request, []string) error { return tt.err }})
			if tt.status == http.StatusOK {
				subscribe(t, srv.URL+"/events?topic=a,b", nil).close()
				return
			}
			resp := get(t, srv.URL+"/events?topic=a,b", nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			msg := errorBody(t, resp)
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "hunter2") {
				t.Errorf("error %q, want it to say %q and hide the authorizer's detail", msg, tt.want)
			}
			if n := app.Events().Connections(); n != 0 {
				t.Errorf("%d connections held after a refusal", n)
			}
		})
	}
}

// TestAuthorizeEachTopic checks the per-topic adapter on its own.
func TestAuthorizeEachTopic(t *testing.T) {
	t.Parallel()
	boom := errors.New("database password is hunter2")
	rule := func(asked *[]string) func(*http.Request, string) (bool, error) {
		return func(r *http.Request, topic string) (bool, error) {
			*asked = append(*asked, topic)
			switch topic {
			case "anon":
				return false, fmt.Errorf("%w: log in", sse.ErrUnauthorized)
			case "plan":
				return false, fmt.Errorf("%w: upgrade your plan", sse.ErrForbidden)
			case "boom":
				return false, boom
			}
			return strings.HasPrefix(topic, "ok"), nil
		}
	}
	tests := []struct {
		name   string
		topics []string
		status int
		want   string   // in the error
		asked  []string // topics the rule was asked about
	}{
		{"all allowed", []string{"ok1", "ok2"}, 200, "", []string{"ok1", "ok2"}},
		{"first denial names the topic and stops", []string{"ok1", "no1", "no2", "ok2"}, 403, `topic "no1"`, []string{"ok1", "no1"}},
		{"unauthorized is returned as is", []string{"ok1", "anon", "no1"}, 401, "ssevents: unauthorized: log in", []string{"ok1", "anon"}},
		{"own forbidden is returned as is", []string{"plan"}, 403, "upgrade your plan", []string{"plan"}},
		{"other error is a 500 naming the topic", []string{"boom", "ok1"}, 500, `authorizer failed for topic "boom"`, []string{"boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			authorize := ssevents.AuthorizeEachTopic(rule(&asked))
			err := authorize(httptest.NewRequest(http.MethodGet, "/events", nil), tt.topics)
			if got := sse.HTTPStatus(err); got != tt.status {
				t.Errorf("status %d (%v), want %d", got, err, tt.status)
			}
			if err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			if tt.status == 500 && !errors.Is(err, boom) {
				t.Errorf("error %v does not wrap the rule's error", err)
			}
			if !slices.Equal(asked, tt.asked) {
				t.Errorf("asked about %q, want %q", asked, tt.asked)
			}
		})
	}
}

// TestForbidden checks the denial error an Authorizer returns.
func TestForbidden(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("tickets: %w", ssevents.Forbidden("ticket:7"))
	var denied *ssevents.DeniedError
	if !errors.As(err, &denied) || denied.Topic != "ticket:7" {
		t.Fatalf("errors.As(%v) gives %+v, want topic ticket:7", err, denied)
	}
	if !errors.Is(err, sse.ErrForbidden) || errors.Is(err, sse.ErrUnauthorized) || sse.HTTPStatus(err) != http.StatusForbidden {
		t.Errorf("%v: want errors.Is sse.ErrForbidden only, status 403", err)
	}
	if ssevents.WithChallenge(nil, "Bearer") != nil {
		t.Errorf("WithChallenge(nil) is not nil")
	}
}

// TestAuthorize_perTopicEndToEnd serves a per-topic rule through the
// adapter: the first denied topic is named, and a failure leaks nothing.
func TestAuthorize_perTopicEndToEnd(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{Authorize: ssevents.AuthorizeEachTopic(func(r *http.Request, topic string) (bool, error) {
		switch user := r.Header.Get("X-User"); {
		case topic == "boom":
			return false, errors.New("database password is hunter2")
		case topic == "announcements":
			return true, nil
		case strings.HasPrefix(topic, "user:"):
			return topic == "user:"+user, nil
		}
		return false, nil
	})})
	hdr := http.Header{"X-User": {"42"}}
	subscribe(t, srv.URL+"/events?topic=user:42,announcements", hdr).close()
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"topic=announcements,user:7,secret", 403, `"user:7"`},
		{"topic=secret", 403, `"secret"`},
		{"topic=boom", 500, "internal error"},
	} {
		resp := get(t, srv.URL+"/events?"+tc.query, hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.query, resp.StatusCode, tc.status)
		}
		msg := errorBody(t, resp)
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "hunter2") {
			t.Errorf("%s: error %q, want it to contain %s and no detail", tc.query, msg, tc.want)
		}
	}
}
