package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// An event is encoded once, in Publish: every subscriber, live or
// resuming, gets the same encoded bytes, which are exactly the event's SSE
// encoding.
func TestEventsAreEncodedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { _ = b.Close() })
	before := brokertest.Publish(t, b, 0, "a")
	first := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"a"}})
	second := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"b", "a"}})
	id, err := b.Publish(ctx, sse.Message{Topics: []string{"a", "b"}, Event: "e", Data: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	resumed := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"a"}, LastEventID: before})
	backlog := resumed.Backlog().Events
	if len(backlog) != 1 {
		t.Fatalf("backlog %+v, want the event", backlog)
	}
	got := []sse.Event{brokertest.ReceiveAtLeast(t, first, 1)[0], brokertest.ReceiveAtLeast(t, second, 1)[0], backlog[0]}
	want := wire.AppendEvent(nil, id, "e", []byte(`{"n":1}`))
	for i, ev := range got {
		if !bytes.Equal(ev.Wire, want) || ev.ID != id || string(ev.Data) != `{"n":1}` {
			t.Fatalf("receiver %d got %+v (Wire %q), want Wire %q", i, ev, ev.Wire, want)
		}
		if &ev.Wire[0] != &got[0].Wire[0] {
			t.Errorf("receiver %d got its own copy of the encoding", i)
		}
	}
}
