package ssevents_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// bothModes runs f with streams taken over from net/http (the default
// over HTTP/1.x) and with streams kept on the ResponseWriter.
func bothModes(t *testing.T, f func(t *testing.T, cfg ssevents.Config)) {
	t.Helper()
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableHijack=%v", disable), func(t *testing.T) {
			t.Parallel()
			f(t, ssevents.Config{DisableHijack: disable})
		})
	}
}

func TestSubscribeHeadersAndImmediateFlush(t *testing.T) {
	t.Parallel()
	bothModes(t, testSubscribeHeadersAndImmediateFlush)
}

func testSubscribeHeadersAndImmediateFlush(t *testing.T, cfg ssevents.Config) {
	cfg.Retry = 2500 * time.Millisecond
	_, srv := newServer(t, cfg)
	resp := get(t, srv.URL+"/events?topic=a", nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The retry line (2500 ms, jittered: 2000 to 3000) is flushed before
	// any event exists, so the browser's open event fires at once.
	readFirstBytes(t, resp.Body, "retry: ", 2*time.Second)
}

func TestSubscribeSeveralTopicsOnOneConnection(t *testing.T) {
	t.Parallel()
	for _, query := range []string{"topic=a,b", "topic=a&topic=b", "topic=a,%20b,,a", "topic=a&topic=,b,"} {
		t.Run(query, func(t *testing.T) {
			t.Parallel()
			app, srv := newServer(t, ssevents.Config{})
			s := subscribe(t, srv.URL+"/events?"+query, nil)
			waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
			idA := publish(t, app, "a", "comment_created", map[string]int{"id": 1})
			idB := publish(t, app, "b", "task:created", map[string]string{"title": "x"})
			publish(t, app, "c", "other", 1) // not subscribed
			evA, evB := s.next(2*time.Second), s.next(2*time.Second)
			if evA.ID != idA || evA.Name != "comment_created" || evA.Data != `{"id":1}` {
				t.Errorf("first event %+v, want id %s comment_created {\"id\":1}", evA, idA)
			}
			if evB.ID != idB || evB.Name != "task:created" || evB.Data != `{"title":"x"}` {
				t.Errorf("second event %+v, want id %s task:created", evB, idB)
			}
			s.expectNone(100 * time.Millisecond)
		})
	}
}

func TestEventPublishedToTwoTopicsArrivesOnce(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	s := subscribe(t, srv.URL+"/events?topic=a,b", nil)
	waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
	id, err := app.PublishTopics(context.Background(), []string{"a", "b"}, "both", json.RawMessage(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev := s.next(2 * time.Second); ev.ID != id || ev.Data != `{"x":1}` {
		t.Fatalf("got %+v", ev)
	}
	s.expectNone(150 * time.Millisecond)
}

func TestMultiLineJSONArrivesIntact(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	s := subscribe(t, srv.URL+"/events?topic=a", nil)
	waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
	// Pretty-printed JSON and strings that try to inject fields.
	data := json.RawMessage("{\n  \"text\": \"a\\n\\nevent: evil\\ndata: x\",\r\n  \"n\": 1\r}")
	publish(t, app, "a", "note", data)
	ev := s.next(2 * time.Second)
	want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
	if ev.Name != "note" || ev.Data != want {
		t.Fatalf("got name %q data %q, want note %q", ev.Name, ev.Data, want)
	}
	if !json.Valid([]byte(ev.Data)) {
		t.Fatalf("data arrived as invalid JSON: %q", ev.Data)
	}
}

func TestSubscribeBadRequests(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{MaxTopicsPerConnection: 3})
	long := strings.Repeat("x", sse.MaxTopicLength+1)
	for _, tc := range []struct {
		query, want string
		status      int
	}{
		{"", "no topic", 400},
		{"topic=", "no topic", 400},
		{"topic=,,,", "no topic", 400},
		{"topic=%20,%20", "no topic", 400},
		{"topic=a%20b", "invalid topic", 400},
		{"topic=a*", "invalid topic", 400},
		{"topic=" + long, "invalid topic", 400},
		{"topic=a%0Aevent:x", "invalid topic", 400},
		{"topic=a,b,c,d", "too many topics", 400},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			resp := get(t, srv.URL+"/events?"+tc.query, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if msg := errorBody(t, resp); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
		})
	}
	t.Run("POST", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Post(srv.URL+"/events?topic=a", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
		errorBody(t, resp)
	})
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	bothModes(t, testMaxConnections)
}

func testMaxConnections(t *testing.T, cfg ssevents.Config) {
	cfg.MaxConnections = 2
	app, srv := newServer(t, cfg)
	s1 := subscribe(t, srv.URL+"/events?topic=a", nil)
	subscribe(t, srv.URL+"/events?topic=a", nil)

	resp := get(t, srv.URL+"/events?topic=a", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third stream: status %d, want 503", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Errorf("503 without Retry-After")
	}
	if msg := errorBody(t, resp); !strings.Contains(msg, "too many connections") {
		t.Errorf("error %q", msg)
	}
	if got := app.Metrics().Snapshot().Connections.RejectedMaxConnections; got != 1 {
		t.Errorf("rejected_max_connections = %d, want 1", got)
	}
	// The slot is freed as soon as the client goes away.
	s1.close()
	waitFor(t, "slot to be freed", 2*time.Second, func() bool { return app.Events().Connections() == 1 })
	subscribe(t, srv.URL+"/events?topic=a", nil)
}

func TestResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		query  func(first string) string
		header func(first string) http.Header
	}{
		{"header", func(string) string { return "topic=a,b" }, func(first string) http.Header { return http.Header{"Last-Event-Id": {first}} }},
		{"query", func(first string) string { return "topic=a,b&lastEventId=" + url.QueryEscape(first) }, func(string) http.Header { return nil }},
		{"header wins over query", func(string) string { return "topic=a,b&lastEventId=garbage" }, func(first string) http.Header { return http.Header{"Last-Event-Id": {first}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app, srv := newServer(t, ssevents.Config{})
			s := subscribe(t, srv.URL+"/events?topic=a,b", nil)
			waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
			first := publish(t, app, "a", "e", 1)
			if ev := s.next(2 * time.Second); ev.ID != first {
				t.Fatalf("got %+v", ev)
			}
			s.close()
			waitFor(t, "disconnect", 2*time.Second, func() bool { return app.Events().Connections() == 0 })

			// Missed while away, on both topics and on one it does not follow.
			var missed []string
			for i := 0; i < 5; i++ {
				missed = append(missed, publish(t, app, []string{"a", "b", "c"}[i%3], "e", i))
			}
			want := []string{missed[0], missed[1], missed[3], missed[4]}

			r := subscribe(t, srv.URL+"/events?"+tc.query(first), tc.header(first))
			for i, id := range want {
				if ev := r.next(2 * time.Second); ev.ID != id || ev.Data != fmt.Sprint([]int{0, 1, 3, 4}[i]) {
					t.Fatalf("replayed event %d = %+v, want id %s", i, ev, id)
				}
			}
			// Then the live stream, without duplicates.
			live := publish(t, app, "b", "live", 9)
			if ev := r.next(2 * time.Second); ev.ID != live || ev.Name != "live" {
				t.Fatalf("after replay got %+v, want live %s", ev, live)
			}
			if got := app.Metrics().Snapshot().Messages.Replayed; got != 4 {
				t.Errorf("replayed = %d, want 4", got)
			}
		})
	}
}

func TestResyncWhenHistoryCannotCover(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{HistorySize: 2})
	old := publish(t, app, "a", "e", 0)
	publish(t, app, "b", "e", 0)
	for i := 1; i <= 3; i++ {
		publish(t, app, "a", "e", i) // pushes "old" and its successor out of a's history
	}
	for _, tc := range []struct {
		name, lastID string
		want         []string
		reason       sse.ResyncReason
	}{
		{"trimmed", old, []string{"a"}, sse.ResyncHistoryExceeded},
		{"unknown", "999999999999999-0", []string{"a", "b"}, sse.ResyncDatasetChanged},
		{"garbage", "not-an-id", []string{"a", "b"}, sse.ResyncDatasetChanged},
		{"from before the broker started", "1-0", []string{"a", "b"}, sse.ResyncDatasetChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := subscribe(t, srv.URL+"/events?topic=a,b", http.Header{"Last-Event-Id": {tc.lastID}})
			// One resync event per topic, each naming its topic and reason.
			var topics []string
			for range tc.want {
				ev := r.next(2 * time.Second)
				if ev.Name != sse.EventResync {
					t.Fatalf("event %+v, want resync", ev)
				}
				var data struct {
					Topics []string
					sse.Resync
				}
				if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
					t.Fatal(err)
				}
				if len(data.Topics) != 1 || data.Topics[0] != data.Topic || data.Reason != tc.reason {
					t.Errorf("resync data %s, want one topic and reason %q", ev.Data, tc.reason)
				}
				if (tc.reason == sse.ResyncDatasetChanged) != (data.Genesis != "") || (tc.reason == sse.ResyncHistoryExceeded) != (data.Oldest != "") {
					t.Errorf("resync data %s: want a genesis for a dataset change, the oldest id held for history exceeded", ev.Data)
				}
				if ev.ID == "" {
					t.Errorf("resync carries no id: a reconnect would resync again")
				}
				topics = append(topics, data.Topic)
			}
			if fmt.Sprint(topics) != fmt.Sprint(tc.want) {
				t.Errorf("resync topics %v, want %v", topics, tc.want)
			}
			r.close()
		})
	}
}

func TestSlowConsumerIsDroppedAndOthersUnaffected(t *testing.T) {
	t.Parallel()
	bothModes(t, testSlowConsumer)
}

func testSlowConsumer(t *testing.T, cfg ssevents.Config) {
	cfg.MaxQueueSize, cfg.WriteTimeout = 4, time.Second
	app, srv := newServer(t, cfg)
	fast := subscribe(t, srv.URL+"/events?topic=a", nil)
	// The slow client never reads its body.
	slowResp := get(t, srv.URL+"/events?topic=a", nil)
	defer slowResp.Body.Close()
	waitFor(t, "subscriptions", time.Second, func() bool { return app.Events().Connections() == 2 })

	payload := json.RawMessage(`"` + strings.Repeat("x", 60<<10) + `"`)
	// 400 × 60 KiB = 24 MB: far more than the socket buffers of the stalled
	// client hold. The publisher goes at the pace of the fast subscriber.
	const n = 400
	var slowest time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := app.Publish(context.Background(), "a", "big", payload); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
		if ev := fast.next(10 * time.Second); ev.Name != "big" {
			t.Fatalf("fast subscriber got %+v", ev)
		}
	}
	waitFor(t, "slow subscriber to be dropped", 10*time.Second, func() bool {
		return app.Metrics().Snapshot().Connections.SlowDisconnected == 1
	})
	snap := app.Metrics().Snapshot()
	if snap.Messages.Dropped == 0 {
		t.Errorf("no drop counted: %+v", snap.Messages)
	}
	if snap.Connections.SlowDisconnected != 1 || snap.Connections.Current != 1 {
		t.Errorf("want exactly the stalled subscriber dropped: %+v", snap.Connections)
	}
	t.Logf("slowest of %d publishes with a stalled subscriber: %v; dropped %d", n, slowest, snap.Messages.Dropped)
}

func TestHeadersSetByWrappingMiddlewareReachTheClient(t *testing.T) {
	t.Parallel()
	bothModes(t, func(t *testing.T, cfg ssevents.Config) {
		app, err := ssevents.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
			app.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { app.Close() })
		s := subscribe(t, srv.URL+"/events?topic=a", nil)
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Errorf("Access-Control-Allow-Origin = %q", got)
		}
		waitFor(t, "subscription", time.Second, func() bool { return app.Events().Connections() == 1 })
		id := publish(t, app, "a", "e", 1)
		if ev := s.next(2 * time.Second); ev.ID != id {
			t.Fatalf("got %+v", ev)
		}
	})
}

func TestClientThatSendsBytesAfterItsRequestIsDropped(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /events?topic=a HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("status line %q", line)
	}
	waitFor(t, "subscription", 2*time.Second, func() bool { return app.Events().Connections() == 1 })
	// Garbage instead of silence; the hub may close the connection before
	// all of it is written, so only the outcome below counts.
	_, _ = conn.Write(bytes.Repeat([]byte("x"), 1<<16))
	waitFor(t, "the stream to end", 2*time.Second, func() bool { return app.Events().Connections() == 0 })
	// A well-behaved stream next to it is unaffected.
	s := subscribe(t, srv.URL+"/events?topic=a", nil)
	waitFor(t, "subscription", 2*time.Second, func() bool { return app.Events().Connections() == 1 })
	id := publish(t, app, "a", "e", 1)
	if ev := s.next(2 * time.Second); ev.ID != id {
		t.Fatalf("got %+v", ev)
	}
}
