package brokertest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// InFlightHolder is a broker under test that can hold a publish in flight:
// the conformance test of a broker passes one (a wrapper reaching the
// broker's test hook) so that the suite can check, without sleeping, what
// a publish with the key of one in flight gets.
type InFlightHolder interface {
	sse.Broker
	// SetInFlightHook makes every later publish with an idempotency key
	// call f once the broker holds its key as in flight, before the event
	// is published; the publish waits until f returns. It is called
	// before any publish of the test.
	SetInFlightHook(f func(sse.Message))
}

// testIdempotencyKeyInFlight holds a publish in flight and checks that
// another publish with its key, the same request or another, is refused
// with ErrIdempotencyKeyInFlight naming the key and publishes nothing,
// while other keys publish; and that once the first has returned, a retry
// answers its id.
func testIdempotencyKeyInFlight(t testing.TB, b sse.Broker) {
	h, ok := b.(InFlightHolder)
	if !ok {
		t.Fatalf("the broker under test (%T) does not implement brokertest.InFlightHolder", b)
	}
	topics := newTopics(t, 2)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics})
	const key = "inflight-1"
	held, release := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	h.SetInFlightHook(func(m sse.Message) {
		// Only the first publish with the key is held: a broker that lets
		// another through must not hang the test.
		if m.IdempotencyKey == key && holding.CompareAndSwap(false, true) {
			close(held)
			<-release
		}
	})
	first := sse.Message{Topics: topics[:1], Event: "test.event", Data: Data(1), IdempotencyKey: key}
	type answer struct {
		id  string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		id, err := tryPublishKey(b, first)
		done <- answer{id, err}
	}()
	select {
	case <-held:
	case a := <-done:
		t.Fatalf("the publish with key %q returned %q, %v without reaching the in-flight hook", key, a.id, a.err)
	case <-time.After(WaitTimeout):
		t.Fatalf("the publish with key %q did not reach the in-flight hook in %v", key, WaitTimeout)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	other := first
	other.Data = Data(2)
	for _, tt := range []struct {
		name string
		msg  sse.Message
	}{{"SameRequest", first}, {"OtherRequest", other}} {
		id, err := tryPublishKey(b, tt.msg)
		wantKeyError(t, tt.name+" while the first is in flight", id, err, key, sse.ErrIdempotencyKeyInFlight)
	}
	otherKey := publishKey(t, b, "inflight-2", 3, topics[1])
	close(release)
	released = true
	a := <-done
	if a.err != nil {
		t.Fatalf("the held publish: %v", a.err)
	}
	if again, err := tryPublishKey(b, first); err != nil || again != a.id {
		t.Fatalf("retry after the first returned = %q, %v; want its id %s", again, err, a.id)
	}
	got := Receive(t, sub, 2)
	ids := map[int]string{}
	for _, ev := range got {
		ids[Seq(t, ev)] = ev.ID
	}
	if len(ids) != 2 || ids[1] != a.id || ids[3] != otherKey {
		t.Fatalf("received %v, want the events 1 (%s) and 3 (%s) once each", describe(got), a.id, otherKey)
	}
	expectQuiet(t, sub)
}
