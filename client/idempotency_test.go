package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// wantKeyError fails the test unless err is a *client.StatusError with
// status that matches want with errors.Is and unwraps to an
// *sse.IdempotencyKeyError for key.
func wantKeyError(t *testing.T, err error, status int, key string, want error) {
	t.Helper()
	var se *client.StatusError
	var ke *sse.IdempotencyKeyError
	if !errors.As(err, &se) || se.StatusCode != status || !errors.Is(err, want) || !errors.As(err, &ke) || ke.Key != key {
		t.Fatalf("err = %v; want a %d *client.StatusError matching %v, with an *sse.IdempotencyKeyError for %q", err, status, want, key)
	}
}

// TestClientPublishKeyReused publishes through a real hub with a key
// already used for another request: a 422 answered at once (not retried)
// as an error typed for errors.Is and errors.As; the same request again
// gets the first id.
func TestClientPublishKeyReused(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{})
	c := newClient(t, client.Config{URL: srv.URL, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	const key = "invoice-7"
	first, err := c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: 1, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	_, err = c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: 2, IdempotencyKey: key,
		OnAttempt: func(client.PublishAttempt) { attempts++ }})
	wantKeyError(t, err, http.StatusUnprocessableEntity, key, sse.ErrIdempotencyKeyReused)
	if attempts != 1 {
		t.Errorf("%d attempts, want 1: a reused key is not retried", attempts)
	}
	if id, err := c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: 1, IdempotencyKey: key}); err != nil || id != first {
		t.Errorf("the first request again = %q, %v; want its id %s", id, err, first)
	}
}

// inFlightThen answers the first inFlight publishes 409 as a hub does
// while a request with the key is in flight, then 200.
type inFlightThen struct {
	inFlight int32
	n        atomic.Int32
}

func (s *inFlightThen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(sse.IdempotencyKeyHeader)
	if s.n.Add(1) <= s.inFlight {
		ssevents.WriteError(w, r, nil, sse.NewIdempotencyKeyError(key, sse.ErrIdempotencyKeyInFlight))
		return
	}
	ssevents.WriteJSON(w, http.StatusOK, sse.PublishResponse{ID: "5-0"})
}

// TestClientPublishKeyInFlight checks that a 409 (the key in flight) is
// retried, with the same key, until the first request's outcome comes,
// and is returned typed when the retries run out.
func TestClientPublishKeyInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inFlight int32
		retries  int
		wantErr  bool
	}{
		{"RetriedUntilAnswered", 2, 3, false},
		{"RetriesRunOut", 100, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &inFlightThen{inFlight: tt.inFlight}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			c := newClient(t, client.Config{URL: srv.URL, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, PublishRetries: tt.retries})
			id, err := c.PublishMessage(t.Context(), client.Message{Topics: []string{"t"}, Event: "e", Data: json.RawMessage(`1`), IdempotencyKey: "k-1"})
			if tt.wantErr {
				wantKeyError(t, err, http.StatusConflict, "k-1", sse.ErrIdempotencyKeyInFlight)
				if got := s.n.Load(); got != int32(tt.retries)+1 {
					t.Errorf("%d requests, want %d", got, tt.retries+1)
				}
				return
			}
			if err != nil || id != "5-0" {
				t.Fatalf("PublishMessage = %q, %v; want 5-0 after the 409s", id, err)
			}
			if got := s.n.Load(); got != tt.inFlight+1 {
				t.Errorf("%d requests, want %d", got, tt.inFlight+1)
			}
		})
	}
}
