package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/hub"
)

// exampleHub serves the hub that `ssevents serve` runs.
func exampleHub() (*hub.Hub, *httptest.Server) {
	h, err := hub.New(hub.Config{})
	if err != nil {
		panic(err)
	}
	return h, httptest.NewServer(h)
}

func ExampleClient_Events() {
	h, srv := exampleHub()
	defer srv.Close()
	defer h.Close()

	c, err := client.New(client.Config{URL: srv.URL})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Publish once the stream is open, so that the event is live.
	ready := client.OnConnState(func(cs client.ConnState) {
		if cs.Connected {
			go func() { _, _ = c.Publish(ctx, "ticket:42", "status", map[string]string{"status": "closed"}) }()
		}
	})
	for ev, err := range c.Events(ctx, []string{"ticket:42"}, ready) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch ev.Kind {
		case client.KindResync:
			fmt.Println("refetch", ev.Topics) // ev.Resync.Reason says why
		case client.KindEvent:
			fmt.Println(ev.Topic, ev.Name, string(ev.Data))
		}
		break // one event is enough for the example
	}
	// Output: ticket:42 status {"status":"closed"}
}

func ExampleClient_Subscribe() {
	h, srv := exampleHub()
	defer srv.Close()
	defer h.Close()

	c, err := client.New(client.Config{URL: srv.URL, Token: "a-jwt-from-ssevents-token"})
	if err != nil {
		panic(err)
	}
	done := errors.New("done")
	err = c.Subscribe(context.Background(), []string{"user:7", "workspace:acme"}, func(ev client.Event) error {
		fmt.Println(ev.Name, string(ev.Data))
		return done // returning an error ends the subscription
	}, client.OnConnState(func(cs client.ConnState) {
		if cs.Connected {
			go func() { _, _ = h.App().Publish(context.Background(), "workspace:acme", "comment", "hello") }()
		}
	}))
	fmt.Println(errors.Is(err, done))
	// Output:
	// comment "hello"
	// true
}

func ExampleClient_Publish() {
	h, srv := exampleHub()
	defer srv.Close()
	defer h.Close()

	c, err := client.New(client.Config{URL: srv.URL})
	if err != nil {
		panic(err)
	}
	_, err = c.Publish(context.Background(), "no spaces allowed", "e", 1)
	var se *client.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.StatusCode == http.StatusBadRequest)
	}
	// Output: true
}
