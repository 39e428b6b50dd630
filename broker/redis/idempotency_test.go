package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestIdempotencyAcrossInstances publishes with one key on one instance
// and again on another sharing the Redis: the same request answers the
// first id, another request is refused with ErrIdempotencyKeyReused, on
// one node and on a cluster (whose topics are in other slots than the
// key's record). On a cluster, a publish held in flight on one instance
// makes the key refused on the other with ErrIdempotencyKeyInFlight.
func TestIdempotencyAcrossInstances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		cluster bool
	}{
		{"Node", func(t *testing.T) string { return redistest.Start(t).URL() }, false},
		{"Cluster", func(t *testing.T) string { return redistest.StartCluster(t).URL() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url(t) + "?timeout=" + testTimeout
			a, b := open(t, url, sse.BrokerOptions{}), open(t, url, sse.BrokerOptions{})
			sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"x", "y", "z"}})
			msg := sse.Message{Topics: []string{"x", "y"}, Event: "test.event", Data: brokertest.Data(1), IdempotencyKey: "across-1"}
			id := publish(t, a, msg)
			retry := msg
			retry.Topics = []string{"y", "x"}
			if again := publish(t, b, retry); again != id {
				t.Fatalf("retry on the other instance = %s, want the first id %s", again, id)
			}
			for _, change := range []func(*sse.Message){
				func(m *sse.Message) { m.Data = brokertest.Data(2) },
				func(m *sse.Message) { m.Event = "test.other" },
				func(m *sse.Message) { m.Topics = []string{"z"} }, // a topic of no earlier publish
			} {
				other := msg
				change(&other)
				got, err := b.Publish(context.Background(), other)
				wantKeyErr(t, got, err, msg.IdempotencyKey, sse.ErrIdempotencyKeyReused)
			}
			if got := brokertest.ReceiveAtLeast(t, sub, 1); got[0].ID != id || brokertest.Seq(t, got[0]) != 1 {
				t.Fatalf("received %v first, want event 1 (%s)", got, id)
			}
			var held string
			if tt.cluster {
				held = heldAcrossInstances(t, a, b)
			}
			// Nothing else was published: the next events are the held
			// publish (cluster), then a marker.
			last := publish(t, a, sse.Message{Topics: []string{"x"}, Event: "test.event", Data: brokertest.Data(9)})
			var got []string
			for len(got) == 0 || got[len(got)-1] != last {
				for _, ev := range brokertest.ReceiveAtLeast(t, sub, 1) {
					got = append(got, ev.ID)
				}
			}
			if want := []string{held, last}; !tt.cluster && !slices.Equal(got, want[1:]) || tt.cluster && !slices.Equal(got, want) {
				t.Fatalf("received %v after the first event, want the held publish (cluster) and the marker %s only", got, last)
			}
		})
	}
}

// heldAcrossInstances holds a publish in flight on a and checks that b
// refuses its key with ErrIdempotencyKeyInFlight, then answers its id once
// it has returned. It returns the id of the held publish.
func heldAcrossInstances(t *testing.T, a, b *redis.Broker) string {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	redis.SetInFlightHook(a, func(sse.Message) {
		close(held)
		<-release
	})
	msg := sse.Message{Topics: []string{"z"}, Event: "test.event", Data: json.RawMessage(`{"n":3}`), IdempotencyKey: "across-2"}
	done := make(chan string, 1)
	go func() {
		id, err := a.Publish(context.Background(), msg)
		if err != nil {
			t.Errorf("held publish: %v", err)
		}
		done <- id
	}()
	select {
	case <-held:
	case <-time.After(brokertest.WaitTimeout):
		close(release)
		t.Fatal("the publish did not reach the in-flight hook")
	}
	got, err := b.Publish(context.Background(), msg)
	close(release)
	wantKeyErr(t, got, err, msg.IdempotencyKey, sse.ErrIdempotencyKeyInFlight)
	id := <-done
	if again := publish(t, b, msg); again != id {
		t.Fatalf("retry on the other instance after the first returned = %s, want %s", again, id)
	}
	return id
}

func publish(t *testing.T, b *redis.Broker, msg sse.Message) string {
	t.Helper()
	id, err := b.Publish(context.Background(), msg)
	if err != nil {
		t.Fatalf("Publish(%+v): %v", msg, err)
	}
	return id
}

func wantKeyErr(t *testing.T, id string, err error, key string, want error) {
	t.Helper()
	var ke *sse.IdempotencyKeyError
	if !errors.Is(err, want) || !errors.As(err, &ke) || ke.Key != key {
		t.Fatalf("Publish = %q, %v; want an *sse.IdempotencyKeyError for %q matching %v", id, err, key, want)
	}
}
