package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// Settings the broker under test must be opened with (see Options).
const (
	// HistorySize is the per-topic history bound the suite expects: small,
	// so that the count bound is reached with a few dozen publishes.
	HistorySize = 10
	// HistoryAge is the history age bound the suite expects: short, so
	// that the age bound is reached within the test, long enough that
	// events do not expire while a test still needs them.
	HistoryAge = 1500 * time.Millisecond
)

// Options returns the BrokerOptions the broker under test must be opened
// with: HistorySize and HistoryAge as the suite expects them.
func Options() sse.BrokerOptions {
	return sse.BrokerOptions{HistorySize: HistorySize, HistoryAge: HistoryAge}
}

// WaitTimeout bounds every wait of the helpers for an event, an end of
// subscription or a condition: far above any healthy delivery time, even
// under -race on a busy machine.
const WaitTimeout = 10 * time.Second

// QuietPeriod is how long Receive waits to see that no further (duplicate)
// event arrives.
const QuietPeriod = 200 * time.Millisecond

// newTopics returns n topic names unique to this test run, so that
// subtests sharing one backend never see each other's events.
func newTopics(t testing.TB, n int) []string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	base := "bt-" + hex.EncodeToString(b[:])
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s:%c", base, 'a'+i)
	}
	return out
}

// Data returns a JSON payload carrying n, so tests can check which event
// arrived and in which order (Seq reads it back).
func Data(n int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)) }

// Seq returns the n of a payload made by Data; it fails the test for
// another payload.
func Seq(t testing.TB, ev sse.Event) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		t.Fatalf("event %s has data %q: %v", ev.ID, ev.Data, err)
	}
	return v.N
}

// Publish publishes the event "test.event" with payload Data(n) to topics
// and returns its id. It fails the test if the publish fails or the id is
// not of the form "<ms>-<seq>".
func Publish(t testing.TB, b sse.Broker, n int, topics ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	id, err := b.Publish(ctx, sse.Message{Topics: topics, Event: "test.event", Data: Data(n)})
	if err != nil {
		t.Fatalf("Publish(%v, %d): %v", topics, n, err)
	}
	if _, err := streamid.Parse(id); err != nil {
		t.Fatalf("Publish returned id %q, want <ms>-<seq>", id)
	}
	return id
}

// Subscribe subscribes to b for req, for as long as the test runs (the
// subscription is closed when it ends). It fails the test on an error.
func Subscribe(t testing.TB, b sse.Broker, req sse.SubscribeRequest) sse.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), req)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", req, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// Receive waits until sub has delivered n events and returns them. It
// fails the test if the subscription ends, the events do not come in time,
// more than n arrive, an event arrives twice (same topic and id), or any
// further event arrives within QuietPeriod after the n-th: a broker that
// delivers an event twice fails every test that receives.
func Receive(t testing.TB, sub sse.Subscription, n int) []sse.Event {
	t.Helper()
	got := ReceiveAtLeast(t, sub, n)
	if len(got) > n {
		t.Fatalf("received %d events, want %d: %v", len(got), n, describe(got))
	}
	checkOnce(t, got)
	expectQuiet(t, sub)
	return got
}

// ReceiveAtLeast waits until sub has delivered n events and returns what
// it has delivered by then, n events or more. It fails the test if the
// subscription ends first or the events do not come within WaitTimeout.
func ReceiveAtLeast(t testing.TB, sub sse.Subscription, n int) []sse.Event {
	t.Helper()
	var got []sse.Event
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for len(got) < n {
		var err error
		got, err = sub.Drain(got)
		if err != nil {
			t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, err)
		}
		if len(got) >= n {
			break
		}
		select {
		case <-sub.Notify():
		case <-deadline.C:
			t.Fatalf("received %d of %d events within %v: %v", len(got), n, WaitTimeout, describe(got))
		}
	}
	return got
}

// Eventually polls cond every 10 ms until it holds, and fails the test,
// naming what, if it does not within WaitTimeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, WaitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOnce fails if two of evs are the same event: same topic and id.
func checkOnce(t testing.TB, evs []sse.Event) {
	t.Helper()
	seen := make(map[string]bool, len(evs))
	for _, ev := range evs {
		k := ev.Topic + " " + ev.ID
		if seen[k] {
			t.Fatalf("event %s on %s delivered twice: %v", ev.ID, ev.Topic, describe(evs))
		}
		seen[k] = true
	}
}

// expectQuiet fails the test if sub delivers any event within QuietPeriod.
func expectQuiet(t testing.TB, sub sse.Subscription) {
	t.Helper()
	timer := time.NewTimer(QuietPeriod)
	defer timer.Stop()
	for {
		got, err := sub.Drain(nil)
		if len(got) > 0 {
			t.Fatalf("unexpected events: %v", describe(got))
		}
		if err != nil {
			t.Fatalf("subscription ended: %v", err)
		}
		select {
		case <-sub.Notify():
		case <-timer.C:
			return
		}
	}
}

// waitEnd waits until sub ends and returns the error that ended it.
func waitEnd(t testing.TB, sub sse.Subscription) error {
	t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		if _, err := sub.Drain(nil); err != nil {
			return err
		}
		select {
		case <-sub.Notify():
		case <-deadline.C:
			t.Fatalf("subscription still open after %v", WaitTimeout)
		}
	}
}

// checkIncreasing fails unless the ids of evs increase strictly.
func checkIncreasing(t testing.TB, evs []sse.Event) {
	t.Helper()
	var prev streamid.ID
	for i, ev := range evs {
		id, err := streamid.Parse(ev.ID)
		if err != nil {
			t.Fatalf("event %d has id %q: %v", i, ev.ID, err)
		}
		if i > 0 && !prev.Less(id) {
			t.Fatalf("ids do not increase: %s then %s in %v", prev, id, describe(evs))
		}
		prev = id
	}
}

// checkOrdered fails unless the ids of evs, events of several topics, do
// not decrease. (Distinct events of different topics may share an id when
// their topics live on different shards of a cluster.)
func checkOrdered(t testing.TB, evs []sse.Event) {
	t.Helper()
	var prev streamid.ID
	for i, ev := range evs {
		id, err := streamid.Parse(ev.ID)
		if err != nil {
			t.Fatalf("event %d has id %q: %v", i, ev.ID, err)
		}
		if id.Less(prev) {
			t.Fatalf("ids decrease: %s then %s in %v", prev, id, describe(evs))
		}
		prev = id
	}
}

// Seqs returns the payload numbers (Seq) of evs.
func Seqs(t testing.TB, evs []sse.Event) []int {
	t.Helper()
	out := make([]int, len(evs))
	for i, ev := range evs {
		out[i] = Seq(t, ev)
	}
	return out
}

func describe(evs []sse.Event) string {
	parts := make([]string, len(evs))
	for i, ev := range evs {
		parts[i] = fmt.Sprintf("%s@%s:%s", ev.ID, ev.Topic, ev.Data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// isEnd reports whether err is one of the errors that end a subscription.
func isEnd(err, want error) bool { return errors.Is(err, want) }
