package brokertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

func testResume(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	var ids []string
	for i := range 5 {
		ids = append(ids, Publish(t, b, i, topic...))
	}
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: ids[1]})
	bl := sub.Backlog()
	if len(bl.Resync) != 0 {
		t.Fatalf("Resync = %v for an id inside the history", bl.Resync)
	}
	if got := Seqs(t, bl.Events); !slices.Equal(got, []int{2, 3, 4}) {
		t.Fatalf("Backlog = %v, want events 2 3 4", describe(bl.Events))
	}
	for i, ev := range bl.Events {
		if ev.ID != ids[i+2] || ev.Topic != topic[0] || ev.Name != "test.event" {
			t.Fatalf("backlog event %d = %+v, want id %s on %s", i, ev, ids[i+2], topic[0])
		}
	}
	checkCursor(t, bl, ids[4])
	for i := 5; i < 8; i++ {
		Publish(t, b, i, topic...)
	}
	if got := Seqs(t, Receive(t, sub, 3)); !slices.Equal(got, []int{5, 6, 7}) {
		t.Fatalf("live events %v, want 5 6 7", got)
	}
}

// checkCursor fails unless bl.Cursor is an id at or after newest.
func checkCursor(t testing.TB, bl sse.Backlog, newest string) {
	t.Helper()
	c, err := streamid.Parse(bl.Cursor)
	if err != nil {
		t.Fatalf("Cursor = %q: %v", bl.Cursor, err)
	}
	if n, _ := streamid.Parse(newest); c.Less(n) {
		t.Fatalf("Cursor %s is before the newest event %s", c, n)
	}
}

func testResumeSeveralTopics(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 3)
	a, bb, c := topics[0], topics[1], topics[2]
	first := Publish(t, b, 0, a)
	Publish(t, b, 1, bb)
	Publish(t, b, 2, a, bb)
	Publish(t, b, 3, c)
	Publish(t, b, 4, bb)
	Publish(t, b, 5, a)
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: []string{a, bb}, LastEventID: first})
	bl := sub.Backlog()
	if len(bl.Resync) != 0 {
		t.Fatalf("Resync = %v", bl.Resync)
	}
	got := Seqs(t, bl.Events)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(sorted, []int{1, 2, 4, 5}) {
		t.Fatalf("Backlog = %v, want events 1 2 4 5 once each", describe(bl.Events))
	}
	checkOrdered(t, bl.Events)
	perTopic := map[string][]int{}
	for _, ev := range bl.Events {
		perTopic[ev.Topic] = append(perTopic[ev.Topic], Seq(t, ev))
	}
	if !slices.IsSorted(perTopic[a]) || !slices.IsSorted(perTopic[bb]) {
		t.Fatalf("Backlog out of order within a topic: %v", describe(bl.Events))
	}
	Publish(t, b, 6, bb, a)
	if got := Receive(t, sub, 1); Seq(t, got[0]) != 6 {
		t.Fatalf("live %v, want event 6", describe(got))
	}
}

// testResumeUnderLoad resumes while a publisher keeps publishing: the
// backlog and the live events together must be exactly the events after
// the resume point, with no gap and no duplicate where they meet.
func testResumeUnderLoad(t testing.TB, b sse.Broker) {
	const total = 60
	topic := newTopics(t, 1)
	var mu sync.Mutex
	var ids []string
	resumeAt := make(chan struct{})
	done := make(chan struct{})
	var pubErr error
	go func() {
		defer close(done)
		for i := range total {
			id, err := b.Publish(context.Background(), sse.Message{Topics: topic, Event: "test.event", Data: Data(i)})
			if err != nil {
				pubErr = err
				return
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			if i == 5 {
				close(resumeAt)
			}
			if i < total/2 {
				time.Sleep(time.Millisecond) // spread the publishes over the Subscribe call
			}
		}
	}()
	select {
	case <-resumeAt:
	case <-done:
		t.Fatalf("publisher stopped: %v", pubErr)
	}
	mu.Lock()
	k := len(ids) - 1
	last := ids[k]
	mu.Unlock()
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: last, QueueSize: total})
	<-done
	if pubErr != nil {
		t.Fatalf("Publish: %v", pubErr)
	}
	bl := sub.Backlog()
	if len(bl.Resync) != 0 {
		t.Fatalf("Resync = %v", bl.Resync)
	}
	live := Receive(t, sub, total-1-k-len(bl.Events))
	all := append(slices.Clone(bl.Events), live...)
	want := make([]int, 0, total)
	for i := k + 1; i < total; i++ {
		want = append(want, i)
	}
	if got := Seqs(t, all); !slices.Equal(got, want) {
		t.Fatalf("backlog (%d) + live (%d) = %v, want %v", len(bl.Events), len(live), got, want)
	}
	checkIncreasing(t, all)
}

func testResumeUnknownID(t testing.TB, b sse.Broker) {
	topics := newTopics(t, 2)
	Publish(t, b, 0, topics[0])
	for _, id := range []string{"garbage", "12-x", "-", "99999999999999-0"} {
		sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics, LastEventID: id})
		bl := sub.Backlog()
		resync := slices.Sorted(slices.Values(bl.ResyncTopics()))
		if !slices.Equal(resync, topics) || len(bl.Events) != 0 {
			t.Fatalf("LastEventID %q: Backlog = %+v, want Resync %v and no events", id, bl, topics)
		}
		checkReasons(t, bl, sse.ResyncDatasetChanged)
		if g, err := streamid.Parse(bl.Resync[0].Genesis); err != nil || bl.Resync[0].Genesis != bl.Resync[1].Genesis || g.IsZero() {
			t.Fatalf("LastEventID %q: Resync %+v, want the same genesis id for each topic", id, bl.Resync)
		}
		if bl.Cursor == "" {
			t.Fatalf("LastEventID %q: no Cursor", id)
		}
		_ = sub.Close()
	}
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topics, LastEventID: "garbage"})
	Publish(t, b, 1, topics[1])
	if got := Receive(t, sub, 1); Seq(t, got[0]) != 1 {
		t.Fatalf("live after resync: %v", describe(got))
	}
}

func testResumeFromCursor(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	Publish(t, b, 0, topic...)
	Publish(t, b, 1, topic...)
	first := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: "garbage"})
	cursor := first.Backlog().Cursor
	second := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: cursor})
	if bl := second.Backlog(); len(bl.Resync) != 0 || len(bl.Events) != 0 {
		t.Fatalf("resume from Cursor %q: Backlog = %+v, want nothing", cursor, bl)
	}
	Publish(t, b, 2, topic...)
	for _, sub := range []sse.Subscription{first, second} {
		if got := Receive(t, sub, 1); Seq(t, got[0]) != 2 {
			t.Fatalf("live %v, want event 2", describe(got))
		}
	}
}

// testHistoryCount resumes from ids that the count bound has pushed out of
// the history, and from one still inside it.
func testHistoryCount(t testing.TB, b sse.Broker) {
	const n = 3 * HistorySize
	topic := newTopics(t, 1)
	ids := make([]string, n)
	for i := range n {
		ids[i] = Publish(t, b, i, topic...)
	}
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: ids[0]})
	bl := sub.Backlog()
	if !slices.Equal(bl.ResyncTopics(), topic) {
		t.Fatalf("resume from the oldest id: Resync = %v, want %v", bl.Resync, topic)
	}
	checkReasons(t, bl, sse.ResyncHistoryExceeded)
	got := Seqs(t, bl.Events)
	if len(got) > 0 && bl.Resync[0].Oldest != bl.Events[0].ID {
		t.Fatalf("resume from the oldest id: Resync %+v, want Oldest %s, the first event of the backlog", bl.Resync[0], bl.Events[0].ID)
	}
	if len(got) == 0 || len(got) >= n-1 || got[len(got)-1] != n-1 {
		t.Fatalf("Backlog = %v, want the newest events (at most %d)", got, n-2)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("Backlog has a gap: %v", got)
		}
	}
	inside := n - HistorySize/2
	sub = Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: ids[inside]})
	if bl := sub.Backlog(); len(bl.Resync) != 0 || len(bl.Events) != n-1-inside {
		t.Fatalf("resume inside the history: Backlog = %v Resync %v, want %d events", describe(bl.Events), bl.Resync, n-1-inside)
	}
}

// testHistoryAge resumes from ids older than HistoryAge.
func testHistoryAge(t testing.TB, b sse.Broker) {
	topic := newTopics(t, 1)
	id0 := Publish(t, b, 0, topic...)
	Publish(t, b, 1, topic...)
	time.Sleep(HistoryAge + 300*time.Millisecond) // age is the point of this test
	sub := Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: id0})
	if bl := sub.Backlog(); !slices.Equal(bl.ResyncTopics(), topic) || len(bl.Events) != 0 {
		t.Fatalf("resume after expiry: Backlog = %v Resync %v, want resync and no events", describe(bl.Events), bl.Resync)
	} else {
		checkReasons(t, bl, sse.ResyncHistoryExceeded)
	}
	id2 := Publish(t, b, 2, topic...)
	sub = Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: id0})
	if bl := sub.Backlog(); !slices.Equal(bl.ResyncTopics(), topic) || !slices.Equal(Seqs(t, bl.Events), []int{2}) {
		t.Fatalf("resume after expiry and a publish: Backlog = %v Resync %v, want resync and event 2", describe(bl.Events), bl.Resync)
	} else if checkReasons(t, bl, sse.ResyncHistoryExceeded); bl.Resync[0].Oldest != id2 {
		t.Fatalf("resume after expiry and a publish: Resync %+v, want Oldest %s", bl.Resync[0], id2)
	}
	sub = Subscribe(t, b, sse.SubscribeRequest{Topics: topic, LastEventID: id2})
	if bl := sub.Backlog(); len(bl.Resync) != 0 || len(bl.Events) != 0 {
		t.Fatalf("resume from the newest id: Backlog = %v Resync %v, want nothing", describe(bl.Events), bl.Resync)
	}
}

// checkReasons fails unless every resync of bl has reason want.
func checkReasons(t testing.TB, bl sse.Backlog, want sse.ResyncReason) {
	t.Helper()
	for _, r := range bl.Resync {
		if r.Reason != want {
			t.Fatalf("Resync %+v, want reason %q", r, want)
		}
	}
}
