package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/internal/redistest"
)

// TestPositionAcrossInstancesThroughRedis: two instances share a Redis
// (and a list, standing in for a database). The list and its position come
// from instance A, an item is added on B, and a stream opened on B from
// A's position gets exactly that item, then live ones.
func TestPositionAcrossInstancesThroughRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	items := newStore()
	startOn := func() *testserver.Server {
		h, cleanup, err := newServer(ssevents.Config{BrokerURL: redis.URL()}, items)
		if err != nil {
			t.Fatal(err)
		}
		return testserver.Start(t, h, cleanup)
	}
	a, b := startOn(), startOn()
	addItem(t, b, "before the list") // in the list: not an event after the position

	resp, err := http.Get(a.URL + "/api/items")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pos := resp.Header.Get(ssevents.PositionHeader)
	if resp.StatusCode != http.StatusOK || pos == "" {
		t.Fatalf("GET /api/items on A: %d, SSE-Position %q", resp.StatusCode, pos)
	}

	addItem(t, b, "eggs") // after the list, before the stream
	s := ssetest.Subscribe(t, b.URL+"/events?topic=items&lastEventId="+url.QueryEscape(pos), nil)
	if ev := s.Next(5 * time.Second); ev.Event != eventItemAdded || ev.Data != `{"id":4,"name":"eggs"}` {
		t.Fatalf("first event on B %+v, want eggs (and not the item before the list)", ev)
	}
	addItem(t, a, "tea")
	if ev := s.Next(5 * time.Second); ev.Event != eventItemAdded || ev.Data != `{"id":5,"name":"tea"}` {
		t.Fatalf("next event on B %+v, want tea, live from A", ev)
	}
}
