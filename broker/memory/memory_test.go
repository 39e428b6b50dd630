package memory_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// An id issued by a previous embedded broker (a previous process) is never
// taken for one of the new broker's, even when both issued ids in the same
// millisecond: resuming from it yields a resync for every topic.
func TestIDsOfAPreviousBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := sse.Message{Topics: []string{"a"}, Event: "e", Data: json.RawMessage(`1`)}
	for range 20 { // back to back: some rounds share a millisecond
		old := memory.New(sse.BrokerOptions{})
		oldID, err := old.Publish(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		b := memory.New(sse.BrokerOptions{})
		newID, err := b.Publish(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := b.Subscribe(ctx, sse.SubscribeRequest{Topics: []string{"a", "b"}, LastEventID: oldID})
		if err != nil {
			t.Fatal(err)
		}
		bl := sub.Backlog()
		if !slices.Equal(bl.ResyncTopics(), []string{"a", "b"}) || len(bl.Events) != 0 {
			t.Fatalf("resume from the previous broker's id %s (new broker's first id %s): backlog %+v, want a resync of a and b, no events", oldID, newID, bl)
		}
		sub.Close()
		b.Close()
	}
}
