package hub_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// postPublish is a POST /publish of body with the given Content-Type
// ("" for none).
func postPublish(body, contentType string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// TestPublishInput checks what POST /publish accepts: a UTF-8 JSON body
// (invalid UTF-8 anywhere is 400, not silently replaced), sent as
// application/json with or without a UTF-8 charset, or as curl -d's
// application/x-www-form-urlencoded when it is JSON all the same; any
// other Content-Type, or none, is 415. Credentials are checked first.
func TestPublishInput(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{})
	const ok = `{"topic": "a", "event": "e", "data": {"text": "déjà vu ✓"}}`
	for _, tc := range []struct {
		name, body, contentType, remote string
		status                          int
		want                            string
	}{
		{"json", ok, "application/json", "", 200, ""},
		{"json, utf-8", ok, "application/json; charset=utf-8", "", 200, ""},
		{"json, UTF-8, any case", ok, "Application/JSON; Charset=\"UTF-8\"", "", 200, ""},
		{"curl -d", ok, "application/x-www-form-urlencoded", "", 200, ""},
		{"curl -d, not JSON", "topic=a&event=e", "application/x-www-form-urlencoded", "", 400, "is read as JSON too"},
		{"invalid UTF-8 in data", "{\"topic\": \"a\", \"event\": \"e\", \"data\": \"x\xffy\"}", "application/json", "", 400, "not valid UTF-8 (at byte 39)"},
		{"invalid UTF-8 in data object", "{\"topic\": \"a\", \"event\": \"e\", \"data\": {\"k\": \"\xc0\xaf\"}}", "application/json", "", 400, "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"topic\": \"a\", \"event\": \"e\", \"\xe2\x82\": 1}", "application/json", "", 400, "not valid UTF-8"},
		{"UTF-16 surrogate in UTF-8", "{\"topic\": \"a\", \"event\": \"e\", \"data\": \"\xed\xa0\x80\"}", "application/json", "", 400, "not valid UTF-8"},
		{"text/plain", ok, "text/plain", "", 415, "Content-Type text/plain; send application/json"},
		{"text/plain, utf-8", ok, "text/plain;charset=UTF-8", "", 415, "send application/json"},
		{"no Content-Type", ok, "", "", 415, "no Content-Type"},
		{"multipart", ok, "multipart/form-data; boundary=x", "", 415, "multipart/form-data"},
		{"not a media type", ok, "application/json;;", "", 415, "is not a media type"},
		{"another charset", ok, "application/json; charset=iso-8859-1", "", 415, `charset "iso-8859-1"; the body must be UTF-8`},
		{"credentials first", ok, "text/plain", "203.0.113.9:4000", 403, "only from loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			remote := tc.remote
			if remote == "" {
				remote = "127.0.0.1:4000"
			}
			w := serve(t, h, postPublish(tc.body, tc.contentType), remote)
			wantAnswer(t, w, tc.status, tc.want)
		})
	}
}

// TestPublishDataArrivesUnchanged checks that multi-byte UTF-8 in a
// publish reaches subscribers byte for byte.
func TestPublishDataArrivesUnchanged(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{})
	sub, err := h.App().Broker().Subscribe(t.Context(), sse.SubscribeRequest{Topics: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	w := serve(t, h, postPublish(`{"topic": "a", "event": "e", "data": "déjà vu ✓ 🙂"}`, "application/json"), "127.0.0.1:4000")
	wantAnswer(t, w, http.StatusOK, "")
	select {
	case <-sub.Notify():
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not delivered")
	}
	evs, err := sub.Drain(nil)
	if err != nil || len(evs) != 1 || string(evs[0].Data) != `"déjà vu ✓ 🙂"` {
		t.Fatalf("delivered %+v (%v), want the data unchanged", evs, err)
	}
}

// TestPublishSlowBody checks that a publish body that does not arrive
// within the read timeout is answered 408 with a JSON error, and the
// connection is not held.
func TestPublishSlowBody(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{})
	h.SetPublishReadTimeout(200 * time.Millisecond)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The headers promise 64 bytes; only the start of the body is sent.
	if _, err := fmt.Fprintf(conn, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"topic\": "); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	var body sse.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !strings.Contains(body.Error, "did not arrive within 200ms") {
		t.Fatalf("error body %+v (%v), want it to say the body did not arrive within 200ms", body, err)
	}
}
