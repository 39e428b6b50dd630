package memory_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// otherShardTopic returns a topic named prefix<n> that b keeps in another
// shard than topic.
func otherShardTopic(t *testing.T, b *memory.Broker, topic, prefix string) string {
	t.Helper()
	for n := range 10_000 {
		other := fmt.Sprintf("%s%d", prefix, n)
		if memory.ShardIndex(b, other) != memory.ShardIndex(b, topic) {
			return other
		}
	}
	t.Fatalf("no topic outside the shard of %s", topic)
	return ""
}

// A publish to one topic completes while a fan-out to another topic is
// under way: the fan-out holds only its own topic's shard, whether the
// subscriber it is held at subscribes to topics of that shard only or of
// several. The fan-out is held inside a subscriber's OnDrop, which the
// publisher calls.
func TestPublishDuringAnotherTopicsFanOut(t *testing.T) {
	t.Parallel()
	for _, across := range []bool{false, true} {
		t.Run(fmt.Sprintf("across shards %v", across), func(t *testing.T) {
			t.Parallel()
			testPublishDuringFanOut(t, across)
		})
	}
}

func testPublishDuringFanOut(t *testing.T, across bool) {
	b := newBroker(t, sse.BrokerOptions{})
	const a = "fanout:a"
	other := otherShardTopic(t, b, a, "fanout:b")
	stuckTopics := []string{a}
	if across {
		stuckTopics = append(stuckTopics, otherShardTopic(t, b, a, "fanout:x"))
	}
	inFanOut, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: stuckTopics, QueueSize: 1, OnDrop: func(int) {
		once.Do(func() { close(inFanOut); <-release })
	}})
	onA := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{a}})
	onOther := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{other}})
	brokertest.Publish(t, b, 1, a) // fills the stuck subscriber's queue
	blocked := make(chan error, 1)
	go func() {
		_, err := b.Publish(context.Background(), sse.Message{Topics: []string{a}, Event: "test.event", Data: brokertest.Data(2)})
		blocked <- err
	}()
	select {
	case <-inFanOut:
	case <-time.After(brokertest.WaitTimeout):
		close(release)
		t.Fatal("the publish to a never overflowed the stuck subscriber")
	}
	// While the fan-out to a is held, other's publishes, subscribers and
	// its delivery go on.
	published := make(chan error, 1)
	go func() {
		late := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{other}})
		for i := 10; i < 13; i++ {
			if _, err := b.Publish(context.Background(), sse.Message{Topics: []string{other}, Event: "test.event", Data: brokertest.Data(i)}); err != nil {
				published <- err
				return
			}
		}
		if got := brokertest.Seqs(t, brokertest.Receive(t, late, 3)); !slices.Equal(got, []int{10, 11, 12}) {
			published <- fmt.Errorf("a new subscriber of %s received %v, want 10 11 12", other, got)
			return
		}
		published <- nil
	}()
	select {
	case err := <-published:
		if err != nil {
			close(release)
			t.Fatal(err)
		}
	case <-time.After(brokertest.WaitTimeout):
		close(release)
		t.Fatalf("publishing to %s waited for the fan-out to %s", other, a)
	}
	if got := brokertest.Seqs(t, brokertest.Receive(t, onOther, 3)); !slices.Equal(got, []int{10, 11, 12}) {
		t.Errorf("the subscriber of %s received %v, want 10 11 12", other, got)
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatalf("the publish to a: %v", err)
	}
	if got := brokertest.Seqs(t, brokertest.Receive(t, onA, 2)); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("the other subscriber of a received %v, want 1 2", got)
	}
}

// publishConcurrently publishes each events to every topic, one publisher
// per topic, all at once, and returns the payload numbers by topic
// (topic i publishes i*1000+k).
func publishConcurrently(t *testing.T, b sse.Broker, topics []string, each int, after func(i, k int)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(topics))
	for i, topic := range topics {
		wg.Go(func() {
			for k := range each {
				if _, err := b.Publish(context.Background(), sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(i*1000 + k)}); err != nil {
					errs <- err
					return
				}
				if after != nil {
					after(i, k)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A subscription to topics of several shards receives their events in id
// order, however the publishes to them interleave: the order a client's
// Last-Event-ID relies on.
func TestSubscriptionAcrossShards_idOrder(t *testing.T) {
	t.Parallel()
	const each = 500
	b := newBroker(t, sse.BrokerOptions{})
	topics := []string{"across:a"}
	for _, prefix := range []string{"across:b", "across:c", "across:d"} {
		topics = append(topics, otherShardTopic(t, b, topics[len(topics)-1], prefix))
	}
	all := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, QueueSize: len(topics) * each})
	publishConcurrently(t, b, topics, each, nil)
	got := brokertest.Receive(t, all, len(topics)*each)
	var prev streamid.ID
	for i, ev := range got {
		id, err := streamid.Parse(ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !prev.Less(id) {
			t.Fatalf("event %d: id %s after %s", i, id, prev)
		}
		prev = id
	}
}

// A publish to subscriptions across shards takes its turn only once the
// publish before it has delivered to all of its own: the turn is what
// keeps TestSubscriptionAcrossShards_idOrder's order, but that test sees a
// turn handed over too early only when the goroutines happen to interleave
// badly. Here the first publish is held in the middle of its delivery (in
// the OnDrop of a full subscriber, which the publisher calls), and the
// second publish, to another shard, must find its turn still closed.
func TestCrossShardTurnWaitsForDelivery(t *testing.T) {
	t.Parallel()
	b := newBroker(t, sse.BrokerOptions{})
	const a = "turn:a"
	x := otherShardTopic(t, b, a, "turn:x")
	turnOpen := make(chan bool, 1)
	memory.OnAwaitingTurn(b, func(turn <-chan struct{}) {
		select {
		case <-turn:
			turnOpen <- true
		default:
			turnOpen <- false
		}
	})
	inDelivery, hold := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before the broker's Close, which the held publish would block
	var once sync.Once
	brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{a, x}, QueueSize: 1, OnDrop: func(int) {
		once.Do(func() { close(inDelivery); <-hold })
	}})
	all := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{a, x}, QueueSize: 10})
	wait := func(what string, ch <-chan bool) bool {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-time.After(brokertest.WaitTimeout):
			t.Fatalf("timed out waiting for %s", what)
		}
		return false
	}
	publish := func(n int, topic string) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := b.Publish(context.Background(), sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(n)})
			done <- err
		}()
		return done
	}

	brokertest.Publish(t, b, 1, a) // fills the held subscriber's queue
	if !wait("the first publish's turn", turnOpen) {
		t.Fatal("the first publish across shards found its turn closed, with no publish before it")
	}
	held := publish(2, a)
	wait("the held publish's turn", turnOpen)
	select {
	case <-inDelivery:
	case <-time.After(brokertest.WaitTimeout):
		t.Fatal("the publish to a never overflowed the held subscriber")
	}
	next := publish(3, x)
	open := wait("the publish to x to wait for its turn", turnOpen)
	release()
	for _, done := range []<-chan error{held, next} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if open {
		t.Fatal("the publish to x got its turn while the publish to a before it was still delivering to subscriptions across shards")
	}
	if got := brokertest.Seqs(t, brokertest.Receive(t, all, 3)); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("the subscriber of both topics received %v, want 1 2 3", got)
	}
}

// A resume on topics of several shards while both are published to gets,
// in its backlog and then live, exactly the events after its Last-Event-ID,
// once each, in id order.
func TestResumeAcrossShardsUnderLoad(t *testing.T) {
	t.Parallel()
	const each = 200
	b := newBroker(t, sse.BrokerOptions{HistorySize: 2 * each})
	topics := []string{"resume:a"}
	topics = append(topics, otherShardTopic(t, b, topics[0], "resume:b"))
	// A live subscriber records every event in the order it arrives; the
	// resume starts from the last event it has received when the first
	// topic's publisher is a quarter through.
	live := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics, QueueSize: 2 * each})
	var resumed sse.Subscription
	var resumeFrom string
	var mu sync.Mutex
	var received []sse.Event
	publishConcurrently(t, b, topics, each, func(i, k int) {
		mu.Lock()
		defer mu.Unlock()
		if resumed != nil || i != 0 || k != each/4 {
			return
		}
		evs, err := live.Drain(nil)
		if err != nil {
			t.Error(err)
			return
		}
		received = append(received, evs...)
		resumeFrom = received[len(received)-1].ID
		resumed, err = b.Subscribe(t.Context(), sse.SubscribeRequest{Topics: topics, LastEventID: resumeFrom, QueueSize: 2 * each})
		if err != nil {
			t.Error(err)
		}
	})
	if resumed == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = resumed.Close() })
	received = append(received, brokertest.Receive(t, live, 2*each-len(received))...)
	at := slices.IndexFunc(received, func(ev sse.Event) bool { return ev.ID == resumeFrom })
	want := received[at+1:]
	bl := resumed.Backlog()
	if len(bl.Resync) != 0 {
		t.Fatalf("Resync = %v", bl.Resync)
	}
	got := append(slices.Clone(bl.Events), brokertest.Receive(t, resumed, len(want)-len(bl.Events))...)
	if !slices.EqualFunc(got, want, func(a, b sse.Event) bool { return a.ID == b.ID && a.Topic == b.Topic }) {
		t.Fatalf("resumed from %s: backlog (%d) + live = %v, want %v", resumeFrom, len(bl.Events), brokertest.Seqs(t, got), brokertest.Seqs(t, want))
	}
}

// Concurrent publishes to many topics of every shard keep the history
// within HistoryMaxTopics and HistoryMaxBytes, and its account exact:
// evicted topics resync on resume, kept ones replay. Each topic gets two
// events, one after the other.
func TestHistoryBoundsUnderConcurrentPublishes(t *testing.T) {
	t.Parallel()
	const publishers, topicsEach, maxTopics = 4, 150, 40
	maxBytes := 30 * (memory.TopicBytes("bounds:0:000") + kbBytes)
	b := newBroker(t, sse.BrokerOptions{HistoryMaxTopics: maxTopics, HistoryMaxBytes: maxBytes})
	first := publishKB(t, b, 0, "bounds:first")
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range topicsEach {
				for k := range 2 {
					if _, err := b.Publish(context.Background(), sse.Message{Topics: []string{fmt.Sprintf("bounds:%d:%03d", p, i)}, Event: "test.event", Data: kilobyte(k)}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := memory.CheckAccounting(b); err != nil {
		t.Fatal(err)
	}
	kept := b.TopicCount()
	if kept == 0 || kept > maxTopics || kept*(memory.TopicBytes("bounds:0:000")+kbBytes) > maxBytes {
		t.Fatalf("%d topics kept, want 1 to %d within %d bytes", kept, maxTopics, maxBytes)
	}
	replayed := 0
	for p := range publishers {
		for i := range topicsEach {
			topic := fmt.Sprintf("bounds:%d:%03d", p, i)
			resync, events := resume(t, b, first, topic)
			switch {
			case slices.Equal(events, []int{0, 1}): // kept; a resync is needless but allowed when an evicted topic shared its watermark slot
				replayed++
			case slices.Equal(resync, []string{topic}) && slices.Equal(events, []int{1}): // evicted between its two events
				replayed++
			case slices.Equal(resync, []string{topic}) && len(events) == 0: // evicted
			default:
				t.Fatalf("resume on %s: resync %v, events %v; want its two events, or a resync and its last event or none", topic, resync, events)
			}
		}
	}
	if replayed != kept {
		t.Errorf("%d topics replayed, %d kept", replayed, kept)
	}
	if err := memory.CheckAccounting(b); err != nil {
		t.Fatal(err)
	}
}
