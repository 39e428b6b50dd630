package redis_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// An event is encoded once where an instance receives it: the local
// subscribers of a channel message share one encoding, and an event read
// back from the stream on resume carries its encoding too.
func TestEventsAreEncodedOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	pub := open(t, srv.URL(), sse.BrokerOptions{})
	recv := open(t, srv.URL(), sse.BrokerOptions{})
	before := brokertest.Publish(t, pub, 0, "t")
	subs := []sse.Subscription{
		brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{"t"}}),
		brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{"t"}}),
	}
	brokertest.Publish(t, pub, 7, "t")
	var got []sse.Event
	for _, s := range subs {
		got = append(got, brokertest.ReceiveAtLeast(t, s, 1)[0])
	}
	resumed, err := recv.Subscribe(context.Background(), sse.SubscribeRequest{Topics: []string{"t"}, LastEventID: before})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resumed.Close() })
	backlog := resumed.Backlog().Events
	if len(backlog) != 1 {
		t.Fatalf("backlog %+v, want the event", backlog)
	}
	for i, ev := range append(got, backlog[0]) {
		want := wire.AppendEvent(nil, ev.ID, ev.Name, ev.Data)
		if ev.ID == "" || !bytes.Equal(ev.Wire, want) || brokertest.Seq(t, ev) != 7 {
			t.Fatalf("event %d %+v has Wire %q, want %q", i, ev, ev.Wire, want)
		}
	}
	if &got[0].Wire[0] != &got[1].Wire[0] {
		t.Error("two local subscribers got their own copies of the encoding")
	}
}
