package brokertest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// PositionOptions returns the BrokerOptions the brokers under RunPosition
// must be opened with: history long enough that every event of a test is
// still there when it resumes.
func PositionOptions() sse.BrokerOptions {
	return sse.BrokerOptions{HistorySize: 10_000, HistoryAge: time.Minute}
}

// RunPosition runs the tests of sse.Positioner. open returns two brokers
// that share one backend (the same broker twice for the embedded one),
// opened with PositionOptions: positions are taken on the first, events
// published on either, and subscriptions resume on the second, so that a
// backend shared by instances is tested across them. RunPosition closes
// both when a subtest ends (Close must be idempotent). Subtests run in
// parallel.
func RunPosition(t *testing.T, open func(t *testing.T) (a, b sse.Broker)) {
	t.Helper()
	for _, tt := range positionSuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, a, b)
		})
	}
}

var positionSuite = []struct {
	name string
	fn   func(t testing.TB, a, b sse.Broker)
}{
	{"FreshTopic", testPositionFreshTopic},
	{"WithHistory", testPositionWithHistory},
	{"SeveralTopics", testPositionSeveralTopics},
	{"OtherTopicsMove", testPositionOtherTopicsMove},
	{"Validation", testPositionValidation},
	{"Concurrent", testPositionConcurrent},
}

// TakePosition returns b's position of topics; it fails the test when b
// is not an sse.Positioner or Position fails.
func TakePosition(t testing.TB, b sse.Broker, topics ...string) string {
	t.Helper()
	p, ok := b.(sse.Positioner)
	if !ok {
		t.Fatalf("%T does not implement sse.Positioner", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	pos, err := p.Position(ctx, topics)
	if err != nil {
		t.Fatalf("Position(%v): %v", topics, err)
	}
	if pos == "" || len(pos) > 256 {
		t.Fatalf("Position(%v) = %q, want 1 to 256 bytes", topics, pos)
	}
	for _, c := range []byte(pos) {
		if !isURLSafe(c) {
			t.Fatalf("Position(%v) = %q has %q, not URL-safe", topics, pos, c)
		}
	}
	return pos
}

// isURLSafe reports whether c needs no percent-encoding in a query.
func isURLSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// resumeFrom subscribes to topics on b from pos and returns the
// subscription, failing the test on a resync.
func resumeFrom(t testing.TB, b sse.Broker, pos string, topics ...string) sse.Subscription {
	t.Helper()
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics, LastEventID: pos, QueueSize: 1024})
	if bl := sub.Backlog(); len(bl.Resync) != 0 {
		t.Fatalf("resume from position %q: Resync = %+v, want none", pos, bl.Resync)
	}
	return sub
}

// checkSeqs fails unless evs carry exactly the payloads want, in order.
func checkSeqs(t testing.TB, what string, evs []sse.Event, want ...int) {
	t.Helper()
	checkOnce(t, evs)
	if got := Seqs(t, evs); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("%s: events %v, want %v: %v", what, got, want, describe(evs))
	}
}

// testPositionFreshTopic: a position of a topic that never had an event,
// on a broker that may never have published, resumes without a resync and
// gets the events after it, from the history and then live.
func testPositionFreshTopic(t testing.TB, a, b sse.Broker) {
	topic := newTopics(t, 1)[0]
	pos := TakePosition(t, a, topic)
	idle := resumeFrom(t, b, pos, topic)
	checkSeqs(t, "backlog before any publish", idle.Backlog().Events)
	Publish(t, a, 1, topic)
	Publish(t, b, 2, topic)
	sub := resumeFrom(t, b, pos, topic)
	checkSeqs(t, "backlog", sub.Backlog().Events, 1, 2)
	Publish(t, a, 3, topic)
	checkSeqs(t, "live", Receive(t, sub, 1), 3)
	checkSeqs(t, "live, subscribed before the publishes", Receive(t, idle, 3), 1, 2, 3)
}

// testPositionWithHistory: events before the position are not replayed,
// those after are, and a position taken again is later.
func testPositionWithHistory(t testing.TB, a, b sse.Broker) {
	topic := newTopics(t, 1)[0]
	for i := range 3 {
		Publish(t, a, i, topic)
	}
	pos := TakePosition(t, a, topic)
	if again := TakePosition(t, a, topic); again == "" {
		t.Fatal("second Position empty")
	}
	Publish(t, b, 3, topic)
	Publish(t, a, 4, topic)
	checkSeqs(t, "backlog", resumeFrom(t, b, pos, topic).Backlog().Events, 3, 4)
	pos2 := TakePosition(t, b, topic)
	checkSeqs(t, "backlog of a position after every event", resumeFrom(t, b, pos2, topic).Backlog().Events)
}

// testPositionSeveralTopics: one position covers several topics, and an
// event published to several of them comes once.
func testPositionSeveralTopics(t testing.TB, a, b sse.Broker) {
	topics := newTopics(t, 3)
	Publish(t, a, 0, topics[0])
	Publish(t, a, 1, topics[1])
	pos := TakePosition(t, a, topics[0], topics[1])
	Publish(t, a, 2, topics[1])
	Publish(t, b, 3, topics[2]) // not subscribed
	Publish(t, a, 4, topics[0], topics[1])
	Publish(t, b, 5, topics[0])
	checkSeqs(t, "backlog", resumeFrom(t, b, pos, topics[0], topics[1]).Backlog().Events, 2, 4, 5)
}

// testPositionOtherTopicsMove: events of other topics after the position
// neither show up nor make the position unknown.
func testPositionOtherTopicsMove(t testing.TB, a, b sse.Broker) {
	topics := newTopics(t, 2)
	Publish(t, a, 0, topics[0])
	pos := TakePosition(t, a, topics[0])
	for i := range 20 {
		Publish(t, b, 1+i, topics[1])
	}
	sub := resumeFrom(t, b, pos, topics[0])
	checkSeqs(t, "backlog", sub.Backlog().Events)
	Publish(t, a, 100, topics[0])
	checkSeqs(t, "live", Receive(t, sub, 1), 100)
}

// testPositionValidation: Position of no topic is sse.ErrNoTopic.
func testPositionValidation(t testing.TB, a, _ sse.Broker) {
	p, ok := a.(sse.Positioner)
	if !ok {
		t.Fatalf("%T does not implement sse.Positioner", a)
	}
	if _, err := p.Position(context.Background(), nil); !errors.Is(err, sse.ErrNoTopic) {
		t.Fatalf("Position(no topic) = %v, want ErrNoTopic", err)
	}
}

// A published event and a taken position, each with the ticks of a
// global clock just before the call and just after it returned.
type positionPub struct {
	n          int
	start, end int64
}
type positionTaken struct {
	pos        string
	call, ret  int64
	events     []sse.Event // its backlog, read once publishing stopped
	seqs       map[int]bool
	seqsSorted []int
}

// testPositionConcurrent takes positions over and over while publishers
// hammer two topics (and both at once), then resumes from each: every
// event published after the position returned is in its backlog, none
// that returned before it was called, and the backlog is a suffix of the
// publishes (an event in it means every event published after that one
// returned is in it too) that only shrinks from one position to a later.
func testPositionConcurrent(t testing.TB, a, b sse.Broker) {
	// Publishers pace themselves so that the positions, taken every
	// millisecond or so, fall between their publishes; they stop once
	// every position is taken, or at perPublisher events (within
	// PositionOptions' history).
	const publishers, perPublisher, positions = 4, 500, 30
	topics := newTopics(t, 2)
	var clock atomic.Int64
	var mu sync.Mutex
	var pubs []positionPub
	var pubErr error
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			on := sse.Broker(a)
			if p%2 == 1 {
				on = b
			}
			for i := range perPublisher {
				select {
				case <-stop:
					return
				default:
				}
				n := p*perPublisher + i
				msg := sse.Message{Topics: topics[n%2 : n%2+1], Event: "test.event", Data: Data(n)}
				if n%3 == 0 {
					msg.Topics = topics
				}
				start := clock.Add(1)
				_, err := on.Publish(context.Background(), msg)
				end := clock.Add(1)
				mu.Lock()
				if err != nil && pubErr == nil {
					pubErr = err
				}
				pubs = append(pubs, positionPub{n: n, start: start, end: end})
				mu.Unlock()
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	var taken []*positionTaken
	for range positions {
		call := clock.Add(1)
		pos := TakePosition(t, a, topics...)
		taken = append(taken, &positionTaken{pos: pos, call: call, ret: clock.Add(1)})
		time.Sleep(time.Millisecond) // spread the positions over the publishes
	}
	close(stop)
	wg.Wait()
	if pubErr != nil {
		t.Fatalf("Publish: %v", pubErr)
	}
	interleaved := 0
	for _, tk := range taken {
		before := slices.ContainsFunc(pubs, func(p positionPub) bool { return p.end < tk.call })
		after := slices.ContainsFunc(pubs, func(p positionPub) bool { return p.start > tk.ret })
		if before && after {
			interleaved++
		}
	}
	if interleaved < positions/2 {
		t.Fatalf("%d of %d positions fell between publishes, want half at least: the test proves little", interleaved, positions)
	}
	for _, tk := range taken {
		sub := resumeFrom(t, b, tk.pos, topics...)
		tk.events = sub.Backlog().Events
		checkOnce(t, tk.events)
		checkOrdered(t, tk.events)
		tk.seqs = make(map[int]bool, len(tk.events))
		for _, ev := range tk.events {
			n := Seq(t, ev)
			if tk.seqs[n] {
				t.Fatalf("position %s: event %d twice: %v", tk.pos, n, describe(tk.events))
			}
			tk.seqs[n] = true
			tk.seqsSorted = append(tk.seqsSorted, n)
		}
		_ = sub.Close()
	}
	for _, tk := range taken {
		checkPositionBacklog(t, tk, pubs)
	}
	for i := 1; i < len(taken); i++ {
		prev, tk := taken[i-1], taken[i]
		for n := range tk.seqs {
			if !prev.seqs[n] {
				t.Fatalf("event %d is after position %s but not after the earlier %s", n, tk.pos, prev.pos)
			}
		}
	}
}

// checkPositionBacklog checks the backlog of one position against the
// publishes: see testPositionConcurrent.
func checkPositionBacklog(t testing.TB, tk *positionTaken, pubs []positionPub) {
	t.Helper()
	var firstIn *positionPub // the in-backlog publish that returned first
	for i := range pubs {
		p := &pubs[i]
		in := tk.seqs[p.n]
		switch {
		case p.start > tk.ret && !in:
			t.Fatalf("position %s: event %d published after it returned is missing (backlog %v)", tk.pos, p.n, tk.seqsSorted)
		case p.end < tk.call && in:
			t.Fatalf("position %s: event %d published before it was taken is in its backlog", tk.pos, p.n)
		}
		if in && (firstIn == nil || p.end < firstIn.end) {
			firstIn = p
		}
	}
	if firstIn == nil {
		return
	}
	for _, p := range pubs {
		if p.start > firstIn.end && !tk.seqs[p.n] {
			t.Fatalf("position %s: event %d is in its backlog but event %d, published after it, is not",
				tk.pos, firstIn.n, p.n)
		}
	}
}
