package client_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// publishRoute adds the hub's POST /publish (JSON {"topic"|"topics",
// "event", "data"} -> {"id"}) to app, for tests that run without the hub.
func publishRoute(app *ssevents.App) {
	app.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Topic  string          `json:"topic"`
			Topics []string        `json:"topics"`
			Event  string          `json:"event"`
			Data   json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			ssevents.WriteError(w, r, nil, fmt.Errorf("%w: %v", ssevents.ErrInvalidRequest, err))
			return
		}
		topics := body.Topics
		if body.Topic != "" {
			topics = append(topics, body.Topic)
		}
		id, err := app.PublishTopics(r.Context(), topics, body.Event, body.Data)
		if err != nil {
			ssevents.WriteError(w, r, nil, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
}

// newApp returns an app with the test publish route, closed when the test
// ends.
func newApp(t *testing.T, cfg ssevents.Config) *ssevents.App {
	t.Helper()
	app, err := ssevents.New(cfg)
	if err != nil {
		t.Fatalf("ssevents.New: %v", err)
	}
	publishRoute(app)
	return app
}

// newServer serves a new app on a loopback httptest server. Cleanup closes
// the app first, so that streams end and the server can close.
func newServer(t *testing.T, cfg ssevents.Config) (*ssevents.App, *httptest.Server) {
	t.Helper()
	app := newApp(t, cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = app.Close() })
	return app, srv
}

// newClient returns a client with a transport of its own, whose idle
// connections are closed when the test ends.
func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{}}
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// connected returns an OnConnState option and a channel that receives a
// value on every successful connection.
func connected() (client.SubscribeOption, chan struct{}) {
	ch := make(chan struct{}, 100)
	return client.OnConnState(func(cs client.ConnState) {
		if cs.Connected {
			ch <- struct{}{}
		}
	}), ch
}
