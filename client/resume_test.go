package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// restartable serves apps on one fixed loopback address, one after the
// other, all on the same broker, so that history survives a "restart".
type restartable struct {
	t      *testing.T
	addr   string
	broker sse.Broker
	app    *hub.Hub
	srv    *httptest.Server
}

func (r *restartable) start() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen on %s again: %v", r.addr, err)
	}
	r.addr = ln.Addr().String()
	r.app = newHub(r.t, ssevents.Config{Broker: r.broker, Retry: 20 * time.Millisecond})
	r.srv = httptest.NewUnstartedServer(r.app)
	r.srv.Listener = ln
	r.srv.Start()
}

// stop ends every stream (as a deploy would), then closes the server.
func (r *restartable) stop() {
	_ = r.app.Close()
	r.srv.Close()
}

func TestClientResumesAfterServerRestart(t *testing.T) {
	t.Parallel()
	b := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { _ = b.Close() })
	r := &restartable{t: t, addr: "127.0.0.1:0", broker: b}
	r.start()
	t.Cleanup(func() { r.stop() })

	c := newClient(t, client.Config{URL: "http://" + r.addr, BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opt, up := connected()
	events := make(chan client.Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, []string{"jobs"}, func(ev client.Event) error { events <- ev; return nil }, opt)
	}()
	waitFor(t, up, 5*time.Second, "connection")

	pub := ssevents.NewPublisher(b, 0, nil)
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := pub.Publish(ctx, "jobs", "job", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []string
	receive := func(n int) {
		for range n {
			ev := waitFor(t, events, 5*time.Second, fmt.Sprintf("event %d", len(got)+1))
			if ev.Kind != client.KindEvent {
				t.Fatalf("got a %v event %+v; resume should not need a resync", ev.Kind, ev)
			}
			got = append(got, string(ev.Data))
		}
	}
	publish(1, 5)
	receive(5)
	r.stop()
	publish(6, 10) // while the server is down: must come from history
	r.start()
	waitFor(t, up, 5*time.Second, "reconnection")
	publish(11, 15)
	receive(10)

	var want []string
	for i := 1; i <= 15; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("received %v, want %v (no loss, no duplicates, in order)", got, want)
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected extra event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := waitFor(t, done, 5*time.Second, "Subscribe to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe returned %v, want context.Canceled", err)
	}
}
