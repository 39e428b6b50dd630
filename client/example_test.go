package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
)

// exampleHub serves an ssevents app with a publish API, standing in for
// `ssevents serve`.
func exampleHub() (*ssevents.App, *httptest.Server) {
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		panic(err)
	}
	publishRoute(app)
	return app, httptest.NewServer(app)
}

func ExampleClient_Events() {
	app, srv := exampleHub()
	defer srv.Close()
	defer app.Close()

	c, err := client.New(client.Config{URL: srv.URL})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Publish once the stream is open, so that the event is live.
	ready := client.OnConnState(func(cs client.ConnState) {
		if cs.Connected {
			go c.Publish(ctx, "ticket:42", "status", map[string]string{"status": "closed"})
		}
	})
	for ev, err := range c.Events(ctx, []string{"ticket:42"}, ready) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch ev.Kind {
		case client.KindResync:
			fmt.Println("refetch", ev.Topics)
		case client.KindEvent:
			fmt.Println(ev.Topic, ev.Name, string(ev.Data))
		}
		break // one event is enough for the example
	}
	// Output: ticket:42 status {"status":"closed"}
}

func ExampleClient_Subscribe() {
	app, srv := exampleHub()
	defer srv.Close()
	defer app.Close()

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
			go app.Publish(context.Background(), "workspace:acme", "comment", "hello")
		}
	}))
	fmt.Println(errors.Is(err, done))
	// Output:
	// comment "hello"
	// true
}

func ExampleClient_Publish() {
	app, srv := exampleHub()
	defer srv.Close()
	defer app.Close()

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
