package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // redis:// broker URLs
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// keyedPublish is a POST /publish of body with the Idempotency-Key key.
func keyedPublish(key, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sse.IdempotencyKeyHeader, key)
	return req
}

// wantKeyAnswer checks that w is status with a JSON error body that names
// key, in its message and in idempotency_key, and says want.
func wantKeyAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, key, want string) {
	t.Helper()
	wantAnswer(t, w, status, want)
	var body sse.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.IdempotencyKey != key || !strings.Contains(body.Error, `"`+key+`"`) {
		t.Fatalf("error body %s does not name the key %q (in error and idempotency_key)", w.Body, key)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

// publishedID returns the id of a 200 answer to a publish.
func publishedID(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	wantAnswer(t, w, http.StatusOK, "")
	var out sse.PublishResponse
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.ID == "" {
		t.Fatalf("answer %s: no id (%v)", w.Body, err)
	}
	return out.ID
}

// TestPublishIdempotencyKeyReused checks POST /publish with a key already
// used: the same request (topics in another order) answers 200 and the
// first id; another data, event or topic answers 422 naming the key, and
// publishes nothing.
func TestPublishIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	h := newHub(t, hub.Config{})
	sub, err := h.App().Broker().Subscribe(t.Context(), sse.SubscribeRequest{Topics: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const key = "order-42"
	first := publishedID(t, serve(t, h, keyedPublish(key, `{"topics": ["a", "b"], "event": "e", "data": 1}`), "127.0.0.1:4000"))
	if id := publishedID(t, serve(t, h, keyedPublish(key, `{"topics": ["b", "a"], "event": "e", "data": 1}`), "127.0.0.1:4000")); id != first {
		t.Fatalf("retry answered id %s, want the first %s", id, first)
	}
	for _, body := range []string{
		`{"topics": ["a", "b"], "event": "e", "data": 2}`,
		`{"topics": ["a", "b"], "event": "f", "data": 1}`,
		`{"topics": ["a", "c"], "event": "e", "data": 1}`,
		`{"topic": "a", "event": "e", "data": 1}`,
	} {
		w := serve(t, h, keyedPublish(key, body), "127.0.0.1:4000")
		wantKeyAnswer(t, w, http.StatusUnprocessableEntity, key, "idempotency key reused for a different request")
	}
	// One event was published: the marker published now comes next.
	marker := publishedID(t, serve(t, h, keyedPublish("marker", `{"topic": "c", "event": "e", "data": 9}`), "127.0.0.1:4000"))
	var ids []string
	for len(ids) < 2 {
		select {
		case <-sub.Notify():
		case <-time.After(5 * time.Second):
			t.Fatalf("received %v, then nothing for 5s", ids)
		}
		evs, err := sub.Drain(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) != 2 || ids[0] != first || ids[1] != marker {
		t.Fatalf("subscriber received %v, want [%s %s]", ids, first, marker)
	}
}

// inFlightBroker answers every publish with key as a broker does while
// another publish with it is in flight.
type inFlightBroker struct {
	sse.Broker
	key string
}

func (b inFlightBroker) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if msg.IdempotencyKey == b.key {
		return "", sse.NewIdempotencyKeyError(msg.IdempotencyKey, sse.ErrIdempotencyKeyInFlight)
	}
	return b.Broker.Publish(ctx, msg)
}

// TestPublishIdempotencyKeyInFlight checks the answer to a publish whose
// key is in flight (as the brokers report it; brokertest checks that they
// do): 409 with a JSON body naming the key.
func TestPublishIdempotencyKeyInFlight(t *testing.T) {
	t.Parallel()
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	h := newHub(t, hub.Config{Config: ssevents.Config{Broker: inFlightBroker{Broker: app.Broker(), key: "held-7"}}})
	w := serve(t, h, keyedPublish("held-7", `{"topic": "a", "event": "e", "data": 1}`), "127.0.0.1:4000")
	wantKeyAnswer(t, w, http.StatusConflict, "held-7", "still in flight")
	publishedID(t, serve(t, h, keyedPublish("other", `{"topic": "a", "event": "e", "data": 1}`), "127.0.0.1:4000"))
}

// TestPublishIdempotencyAcrossHubs publishes through two hubs on one
// Redis: a retry on the other hub answers the first id, the key with
// other data 422.
func TestPublishIdempotencyAcrossHubs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newHub(t, hub.Config{Config: ssevents.Config{BrokerURL: srv.URL()}})
	b := newHub(t, hub.Config{Config: ssevents.Config{BrokerURL: srv.URL()}})
	const key = "across-hubs"
	first := publishedID(t, serve(t, a, keyedPublish(key, `{"topic": "a", "event": "e", "data": 1}`), "127.0.0.1:4000"))
	if id := publishedID(t, serve(t, b, keyedPublish(key, `{"topic": "a", "event": "e", "data": 1}`), "127.0.0.1:4000")); id != first {
		t.Fatalf("retry on the other hub answered %s, want the first id %s", id, first)
	}
	w := serve(t, b, keyedPublish(key, `{"topic": "a", "event": "e", "data": 2}`), "127.0.0.1:4000")
	wantKeyAnswer(t, w, http.StatusUnprocessableEntity, key, "reused")
}
