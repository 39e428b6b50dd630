package ssevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// positionConfig allows every topic but "secret:*" (403 naming it), and
// answers 401 to a request with the header X-Test-User: nobody.
func positionConfig() ssevents.Config {
	return ssevents.Config{
		Logger: slog.New(slog.DiscardHandler),
		Authorize: func(r *http.Request, topics []string) error {
			if r.Header.Get(userHeader) == "nobody" {
				return fmt.Errorf("%w: no token", sse.ErrUnauthorized)
			}
			for _, t := range topics {
				if strings.HasPrefix(t, "secret:") {
					return ssevents.Forbidden(t)
				}
			}
			return nil
		},
	}
}

// positionOf GETs /position?query and decodes the answer.
func positionOf(t *testing.T, base, query string) string {
	t.Helper()
	resp := get(t, base+"/position?"+query, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /position?%s: status %d: %s", query, resp.StatusCode, errorBody(t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body ssevents.PositionResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Position == "" {
		t.Fatalf("GET /position?%s: body %+v, %v; want {\"position\": \"...\"}", query, body, err)
	}
	return body.Position
}

// GET /position answers a position that resumes exactly: a stream given
// it as ?lastEventId= or Last-Event-ID gets the events published after
// it, and none before, on the topics of a comma list or repeated topic=.
func TestPosition_resume(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, positionConfig())
	publish(t, app, "a", "before", map[string]int{"n": 0})
	for _, query := range []string{"topic=a,b", "topic=a&topic=b"} {
		pos := positionOf(t, srv.URL, query)
		publish(t, app, "a", "after", map[string]int{"n": 1})
		publish(t, app, "b", "after", map[string]int{"n": 2})
		byQuery := subscribe(t, srv.URL+"/events?topic=a,b&lastEventId="+url.QueryEscape(pos), nil)
		byHeader := subscribe(t, srv.URL+"/events?topic=a,b", http.Header{"Last-Event-Id": {pos}})
		for name, s := range map[string]*stream{"?lastEventId": byQuery, "Last-Event-ID": byHeader} {
			for _, want := range []string{`{"n":1}`, `{"n":2}`} {
				if ev := s.next(5 * time.Second); ev.Name != "after" || ev.Data != want {
					t.Fatalf("%s %s: event %+v, want after %s", query, name, ev, want)
				}
			}
			s.expectNone(100 * time.Millisecond)
			s.close()
		}
	}
	pos, err := app.Position(context.Background(), "a", "b", "a")
	if err != nil || pos == "" {
		t.Fatalf("app.Position = %q, %v", pos, err)
	}
}

// GET /position answers clear JSON errors: 400 for bad topics, 401 and
// 403 as a subscription would get, without a position.
func TestPosition_errors(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, positionConfig())
	for _, tc := range []struct {
		query, user string
		status      int
		want        string
	}{
		{"", "", http.StatusBadRequest, "topic"},
		{"topic=", "", http.StatusBadRequest, "topic"},
		{"topic=bad%20topic", "", http.StatusBadRequest, "topic"},
		{"topic=a,secret:x", "", http.StatusForbidden, `"secret:x"`},
		{"topic=a", "nobody", http.StatusUnauthorized, "unauthorized"},
	} {
		resp := get(t, srv.URL+"/position?"+tc.query, as(tc.user))
		msg := errorBody(t, resp)
		if resp.StatusCode != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("GET /position?%s as %q: %d %q, want %d mentioning %q", tc.query, tc.user, resp.StatusCode, msg, tc.status, tc.want)
		}
		if strings.Contains(msg, "position") && tc.status != http.StatusBadRequest {
			t.Errorf("GET /position?%s: %q tells a position", tc.query, msg)
		}
	}
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	resp := get(t, srv.URL+"/position?topic="+strings.Join(many, ","), nil)
	if msg := errorBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "topics") {
		t.Errorf("40 topics: %d %q, want 400 about too many topics", resp.StatusCode, msg)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/position?topic=a", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /position: %d, want 405", resp.StatusCode)
	}
}

// A broker that cannot tell positions: app.Position is ErrNoPosition,
// GET /position 501 saying so, and WithPosition serves without the header.
func TestPosition_unsupported(t *testing.T) {
	t.Parallel()
	b := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { _ = b.Close() })
	cfg := positionConfig()
	cfg.Broker = noPresenceBroker{b} // hides Position too
	app, srv := newServer(t, cfg)
	if _, err := app.Position(context.Background(), "a"); !errors.Is(err, sse.ErrNoPosition) {
		t.Fatalf("app.Position = %v, want ErrNoPosition", err)
	}
	resp := get(t, srv.URL+"/position?topic=a", nil)
	if msg := errorBody(t, resp); resp.StatusCode != http.StatusNotImplemented || !strings.Contains(msg, "position") {
		t.Errorf("GET /position: %d %q, want 501 saying the broker cannot tell positions", resp.StatusCode, msg)
	}
	app.Handle("GET /tickets/{id}", app.WithPosition("ticket:{id}")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ssevents.WriteJSON(w, http.StatusOK, map[string]string{"status": "open"})
	})))
	resp = get(t, srv.URL+"/tickets/1", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(ssevents.PositionHeader) != "" {
		t.Errorf("GET /tickets/1: %d with SSE-Position %q, want 200 without it", resp.StatusCode, resp.Header.Get(ssevents.PositionHeader))
	}
}

// WithPosition sets SSE-Position from the template's topics before the
// handler runs: an event the handler's data already reflects (published
// while it reads) is after the position, one published before the request
// is not, and so the page's data plus the events after the header are
// complete.
func TestWithPosition(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, positionConfig())
	status := "open"
	var headerAtHandler string
	app.Handle("GET /tickets/{id}", app.WithPosition("ticket:{id}, tickets")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headerAtHandler = w.Header().Get(ssevents.PositionHeader)
		// A change lands while the handler reads its data: the
		// position was taken before, so the event is after it.
		status = "closed"
		publish(t, app, "ticket:"+r.PathValue("id"), "status", map[string]string{"status": status})
		ssevents.WriteJSON(w, http.StatusOK, map[string]string{"status": status})
	})))
	publish(t, app, "ticket:7", "status", map[string]string{"status": "open"})
	resp := get(t, srv.URL+"/tickets/7", http.Header{"Origin": {"https://app.example"}})
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	pos := resp.Header.Get(ssevents.PositionHeader)
	if resp.StatusCode != http.StatusOK || pos == "" || pos != headerAtHandler {
		t.Fatalf("GET /tickets/7: %d, SSE-Position %q (%q in the handler), want 200 with one set before the handler", resp.StatusCode, pos, headerAtHandler)
	}
	if got := resp.Header.Get("Access-Control-Expose-Headers"); got != ssevents.PositionHeader {
		t.Errorf("Access-Control-Expose-Headers = %q, want %s", got, ssevents.PositionHeader)
	}
	publish(t, app, "tickets", "created", map[string]int{"id": 8})
	s := subscribe(t, srv.URL+"/events?topic=ticket:7,tickets&lastEventId="+url.QueryEscape(pos), nil)
	for _, want := range []string{`{"status":"closed"}`, `{"id":8}`} {
		if ev := s.next(5 * time.Second); ev.Data != want {
			t.Fatalf("event %+v, want %s", ev, want)
		}
	}
	s.expectNone(100 * time.Millisecond)
}
