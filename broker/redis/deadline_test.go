package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestFailedPublishNeverDelivered pauses Redis (SIGSTOP) while publishes
// are in flight: each is answered ErrOutcomeUnknown when its timeout
// passes (sent, never answered), with its command already queued in
// Redis's socket. When Redis resumes and runs them past their deadline,
// they must change nothing: they are never delivered, not even later, and
// never enter history. Publishes with an idempotency key, retried after
// Redis is back, publish once.
func TestFailedPublishNeverDelivered(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	url := srv.URL() + "?timeout=500ms"
	pub := open(t, url, sse.BrokerOptions{})
	recv := open(t, url, sse.BrokerOptions{})
	const topic = "paused"
	sub := brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}, QueueSize: 100})
	brokertest.Publish(t, pub, 0, topic)
	if got := brokertest.Receive(t, sub, 1); brokertest.Seq(t, got[0]) != 0 {
		t.Fatalf("got %v, want event 0", brokertest.Seqs(t, got))
	}

	srv.Pause()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			msg := sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(1 + i)}
			if i%2 == 1 {
				msg.IdempotencyKey = "retry-" + string(rune('a'+i))
			}
			_, errs[i] = pub.Publish(context.Background(), msg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, sse.ErrOutcomeUnknown) {
			t.Fatalf("publish %d with Redis paused: %v, want ErrOutcomeUnknown", 1+i, err)
		}
	}
	time.Sleep(200 * time.Millisecond) // well past every deadline
	srv.Continue()

	brokertest.Eventually(t, "Ready after SIGCONT", func() bool { return pub.Ready(context.Background()) == nil })
	// The retries of the keyed publishes: published now, once.
	var want []int
	for i := range errs {
		if i%2 == 1 {
			brokertest.Eventually(t, "a retry is accepted", func() bool {
				_, err := pub.Publish(context.Background(), sse.Message{Topics: []string{topic}, Event: "test.event",
					Data: brokertest.Data(1 + i), IdempotencyKey: "retry-" + string(rune('a'+i))})
				return err == nil
			})
			want = append(want, 1+i)
		}
	}
	brokertest.Publish(t, pub, 9, topic)
	want = append(want, 9)
	got := brokertest.Seqs(t, brokertest.Receive(t, sub, len(want)))
	if len(got) != len(want) {
		t.Fatalf("after SIGCONT received %v, want %v: the publishes answered with an error must stay unpublished", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after SIGCONT received %v, want %v: the publishes answered with an error must stay unpublished", got, want)
		}
	}
	if n := srv.MustDo("XLEN", "ssevents:{"+topic+"}"); n != "4" {
		t.Fatalf("the stream holds %s entries, want 4 (events 0, 2, 4, 9)", n)
	}
}

// TestCanceledPublishTellsTheTruth cancels a publish's context while Redis
// is paused with the publish queued, then resumes Redis before the
// script's deadline: Publish must either return the id of an event that
// is delivered, or an error for an event that never is.
func TestCanceledPublishTellsTheTruth(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	url := srv.URL() + "?timeout=1s"
	pub := open(t, url, sse.BrokerOptions{})
	recv := open(t, url, sse.BrokerOptions{})
	const topic = "canceled"
	sub := brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{topic}, QueueSize: 100})
	brokertest.Publish(t, pub, 0, topic) // loads the script: the paused one runs by its hash
	brokertest.Receive(t, sub, 1)
	srv.Pause()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	time.AfterFunc(200*time.Millisecond, srv.Continue)
	id, err := pub.Publish(ctx, sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(1)})
	brokertest.Eventually(t, "Ready after SIGCONT", func() bool { return pub.Ready(context.Background()) == nil })
	brokertest.Publish(t, pub, 2, topic)
	t.Logf("Publish answered (%q, %v)", id, err)
	var want []int
	if err == nil {
		want = []int{1, 2}
	} else {
		want = []int{2}
	}
	got := brokertest.Seqs(t, brokertest.Receive(t, sub, len(want)))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Publish answered (%q, %v); subscribers got %v, want %v", id, err, got, want)
	}
}
