package brokertest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// Run runs the conformance suite. open must return a new broker opened
// with Options(), an InFlightHolder (the idempotency test that needs one
// fails otherwise); Run closes it when the subtest ends (so Close must be
// idempotent). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) sse.Broker) {
	t.Helper()
	for _, tt := range suite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, b)
		})
	}
}

// suite lists the conformance tests. They take a testing.TB so that this
// package's own tests can run them against a recorder and check that they
// fail for a broken broker.
var suite = []struct {
	name string
	fn   func(t testing.TB, b sse.Broker)
}{
	{"PublishSubscribe", testPublishSubscribe},
	{"SeveralTopics", testSeveralTopics},
	{"MultiTopicOnce", testMultiTopicOnce},
	{"ConcurrentOrder", testConcurrentOrder},
	{"Validation", testValidation},
	{"Idempotency", testIdempotency},
	{"IdempotencyKeyReused", testIdempotencyKeyReused},
	{"IdempotencyKeyInFlight", testIdempotencyKeyInFlight},
	{"Ready", testReady},
	{"Resume", testResume},
	{"ResumeSeveralTopics", testResumeSeveralTopics},
	{"ResumeUnderLoad", testResumeUnderLoad},
	{"ResumeUnknownID", testResumeUnknownID},
	{"ResumeFromCursor", testResumeFromCursor},
	{"HistoryCount", testHistoryCount},
	{"HistoryAge", testHistoryAge},
	{"SlowConsumer", testSlowConsumer},
	{"ContextCancel", testContextCancel},
	{"SubscriptionClose", testSubscriptionClose},
	{"BrokerClose", testBrokerClose},
}

func testPublishSubscribe(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)[0]
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: []string{topic}})
	if bl := sub.Backlog(); len(bl.Events) != 0 || len(bl.Resync) != 0 {
		t.Fatalf("Backlog without LastEventID = %+v, want empty", bl)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, Publish(t, b, i, topic))
	}
	got := Receive(t, sub, 5)
	for i, ev := range got {
		if ev.ID != ids[i] || ev.Topic != topic || ev.Name != "test.event" || Seq(t, ev) != i {
			t.Fatalf("event %d = %+v, want id %s topic %s name test.event n %d", i, ev, ids[i], topic, i)
		}
		if ev.Time.IsZero() {
			t.Errorf("event %d has no Time", i)
		}
	}
	checkIncreasing(t, got)
}

func testSeveralTopics(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics[:2]})
	Publish(t, b, 0, topics[0])
	Publish(t, b, 1, topics[1])
	Publish(t, b, 2, topics[2]) // not subscribed
	Publish(t, b, 3, topics[0])
	Publish(t, b, 4, topics[1])
	got := Receive(t, sub, 4)
	perTopic := map[string][]int{}
	for _, ev := range got {
		perTopic[ev.Topic] = append(perTopic[ev.Topic], Seq(t, ev))
	}
	if !slices.Equal(perTopic[topics[0]], []int{0, 3}) || !slices.Equal(perTopic[topics[1]], []int{1, 4}) {
		t.Fatalf("got %v, want %s: [0 3], %s: [1 4]", describe(got), topics[0], topics[1])
	}
}

func testMultiTopicOnce(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	both := Subscribe(t, b, sse.SubscribeRequest{Topics: topics[:2]})
	second := Subscribe(t, b, sse.SubscribeRequest{Topics: topics[1:2]})
	Publish(t, b, 7, topics[0], topics[1], topics[2])
	// Receive fails on a second copy, whichever topic it names.
	for _, ev := range Receive(t, both, 1) {
		if Seq(t, ev) != 7 || !slices.Contains(topics[:2], ev.Topic) {
			t.Fatalf("got %v, want event 7 once on one of %v", describe([]sse.Event{ev}), topics[:2])
		}
	}
	for _, ev := range Receive(t, second, 1) {
		if Seq(t, ev) != 7 || ev.Topic != topics[1] {
			t.Fatalf("got %v, want event 7 once on %s", describe([]sse.Event{ev}), topics[1])
		}
	}
}

// testConcurrentOrder publishes from several goroutines to two topics and
// checks that every event arrives once, ids increase within each topic, and
// each publisher's events keep their order.
func testConcurrentOrder(t testing.TB, b sse.Broker) {
	const publishers, each = 4, 25
	topics := newTopics(t, 2)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics, QueueSize: publishers * each})
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				msg := sse.Message{Topics: topics[p%2 : p%2+1], Event: "test.event", Data: Data(p*1000 + i)}
				if _, err := b.Publish(context.Background(), msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	got := Receive(t, sub, publishers*each)
	last := map[int]int{}
	lastID := map[string]streamid.ID{}
	seen := map[string]bool{} // topic and id: on a cluster, shards issue ids independently
	for _, ev := range got {
		if seen[ev.Topic+" "+ev.ID] {
			t.Fatalf("id %s delivered twice on %s", ev.ID, ev.Topic)
		}
		seen[ev.Topic+" "+ev.ID] = true
		id, err := streamid.Parse(ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := lastID[ev.Topic]; ok && !prev.Less(id) {
			t.Fatalf("ids do not increase on %s: %s then %s", ev.Topic, prev, id)
		}
		lastID[ev.Topic] = id
		n := Seq(t, ev)
		p, i := n/1000, n%1000
		if prev, ok := last[p]; ok && i != prev+1 {
			t.Fatalf("publisher %d: event %d after %d", p, i, prev)
		} else if !ok && i != 0 {
			t.Fatalf("publisher %d: first event is %d", p, i)
		}
		last[p] = i
	}
}

func testValidation(t testing.TB, b sse.Broker) {
	ctx := context.Background()
	if _, err := b.Publish(ctx, sse.Message{Event: "x", Data: Data(1)}); !errors.Is(err, sse.ErrNoTopic) {
		t.Errorf("Publish without topics: %v, want ErrNoTopic", err)
	}
	if _, err := b.Subscribe(ctx, sse.SubscribeRequest{}); !errors.Is(err, sse.ErrNoTopic) {
		t.Errorf("Subscribe without topics: %v, want ErrNoTopic", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	topic := newTopics(t, 1)
	if sub, err := b.Subscribe(done, sse.SubscribeRequest{Topics: topic}); err == nil {
		_ = sub.Close()
		t.Errorf("Subscribe with a canceled context succeeded")
	}
	if _, err := b.Publish(done, sse.Message{Topics: topic, Event: "x", Data: Data(1)}); err == nil {
		t.Errorf("Publish with a canceled context succeeded")
	}
}

func testReady(t testing.TB, b sse.Broker) {
	if err := b.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

func testSubscriptionClose(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	sub, err := b.Subscribe(t.Context(), sse.SubscribeRequest{Topics: topic})
	if err != nil {
		t.Fatal(err)
	}
	other := Subscribe(t, b, sse.SubscribeRequest{Topics: topic})
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := waitEnd(t, sub); !isEnd(err, context.Canceled) {
		t.Fatalf("closed subscription ended with %v, want context.Canceled", err)
	}
	Publish(t, b, 1, topic...)
	if got := Receive(t, other, 1); Seq(t, got[0]) != 1 {
		t.Fatalf("other subscription got %v", describe(got))
	}
	if got, _ := sub.Drain(nil); len(got) != 0 {
		t.Fatalf("closed subscription received %v", describe(got))
	}
}

func testBrokerClose(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topic})
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitEnd(t, sub); !isEnd(err, sse.ErrBrokerClosed) {
		t.Fatalf("subscription ended with %v, want ErrBrokerClosed", err)
	}
	ctx := context.Background()
	if _, err := b.Publish(ctx, sse.Message{Topics: topic, Event: "x", Data: Data(1)}); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Errorf("Publish after Close: %v, want ErrBrokerClosed", err)
	}
	if s, err := b.Subscribe(ctx, sse.SubscribeRequest{Topics: topic}); !errors.Is(err, sse.ErrBrokerClosed) {
		if s != nil {
			_ = s.Close()
		}
		t.Errorf("Subscribe after Close: %v, want ErrBrokerClosed", err)
	}
	if err := b.Ready(ctx); err == nil {
		t.Errorf("Ready after Close returned nil")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
