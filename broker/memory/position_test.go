package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

func TestPosition(t *testing.T) {
	t.Parallel()
	brokertest.RunPosition(t, func(t *testing.T) (sse.Broker, sse.Broker) {
		b := memory.New(brokertest.PositionOptions())
		return b, b
	})
}

// TestPositionDurable runs the position tests on the broker with a data
// directory.
func TestPositionDurable(t *testing.T) {
	t.Parallel()
	brokertest.RunPosition(t, func(t *testing.T) (sse.Broker, sse.Broker) {
		b := openDurable(t, t.TempDir(), brokertest.PositionOptions())
		return b, b
	})
}

// TestPositionDurableRestart: a position taken before a restart of a
// durable broker, with or without events before it, resumes on the broker
// opened again on the same directory without a resync, and gets exactly
// the events published after it, before the restart and after.
func TestPositionDurableRestart(t *testing.T) {
	t.Parallel()
	for _, withEvents := range []bool{false, true} {
		t.Run(map[bool]string{false: "Empty", true: "WithEvents"}[withEvents], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			topic := "ticket:1"
			b := openDurable(t, dir, brokertest.PositionOptions())
			if withEvents {
				brokertest.Publish(t, b, 0, topic)
			}
			pos := brokertest.TakePosition(t, b, topic)
			if withEvents {
				brokertest.Publish(t, b, 1, topic)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = openDurable(t, dir, brokertest.PositionOptions())
			t.Cleanup(func() { _ = b.Close() })
			brokertest.Publish(t, b, 2, topic)
			sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}, LastEventID: pos})
			bl := sub.Backlog()
			if len(bl.Resync) != 0 {
				t.Fatalf("Resync = %+v, want none", bl.Resync)
			}
			want := []int{2}
			if withEvents {
				want = []int{1, 2}
			}
			if got := brokertest.Seqs(t, bl.Events); len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
				t.Fatalf("backlog %v, want %v", got, want)
			}
		})
	}
}

// TestPositionAfterClose: Position on a closed broker is ErrBrokerClosed.
func TestPositionAfterClose(t *testing.T) {
	t.Parallel()
	b := memory.New(brokertest.PositionOptions())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Position(context.Background(), []string{"a"}); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Position after Close = %v, want ErrBrokerClosed", err)
	}
}
