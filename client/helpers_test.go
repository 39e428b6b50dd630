package client_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/hub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newHub returns the real hub (publish API included) for cfg, closed when
// the test ends; anonymous subscribing and loopback publishing are allowed.
func newHub(t *testing.T, cfg ssevents.Config) *hub.Hub {
	t.Helper()
	h, err := hub.New(hub.Config{Config: cfg})
	if err != nil {
		t.Fatalf("hub.New: %v", err)
	}
	return h
}

// newServer serves a new hub on a loopback httptest server and returns its
// app. Cleanup closes the hub first, so that streams end and the server
// can close.
func newServer(t *testing.T, cfg ssevents.Config) (*ssevents.App, *httptest.Server) {
	t.Helper()
	h := newHub(t, cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	return h.App(), srv
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
