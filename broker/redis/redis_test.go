package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

func TestTwoInstances(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := open(t, srv.URL(), sse.BrokerOptions{})
	b := open(t, srv.URL(), sse.BrokerOptions{})
	onB := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"ticket:1"}})
	onA := brokertest.Subscribe(t, a, sse.SubscribeRequest{Topics: []string{"ticket:1"}})
	for i := range 3 {
		brokertest.Publish(t, a, i, "ticket:1")
	}
	for name, sub := range map[string]sse.Subscription{"A": onA, "B": onB} {
		got := brokertest.ReceiveAtLeast(t, sub, 3)
		for i, ev := range got {
			if brokertest.Seq(t, ev) != i || ev.Topic != "ticket:1" {
				t.Fatalf("instance %s event %d = %+v", name, i, ev)
			}
		}
	}
}

// TestResumeOnOtherInstance reads on A, disconnects, and resumes on B
// from the last id read on A.
func TestResumeOnOtherInstance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := open(t, srv.URL(), sse.BrokerOptions{})
	b := open(t, srv.URL(), sse.BrokerOptions{})
	onA, err := a.Subscribe(context.Background(), sse.SubscribeRequest{Topics: []string{"doc:7"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		brokertest.Publish(t, a, i, "doc:7")
	}
	last := brokertest.ReceiveAtLeast(t, onA, 3)[2].ID
	_ = onA.Close()
	brokertest.Publish(t, a, 3, "doc:7")
	brokertest.Publish(t, b, 4, "doc:7")
	onB := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"doc:7"}, LastEventID: last})
	bl := onB.Backlog()
	if len(bl.Resync) != 0 || len(bl.Events) != 2 || brokertest.Seq(t, bl.Events[0]) != 3 || brokertest.Seq(t, bl.Events[1]) != 4 {
		t.Fatalf("Backlog on B = %+v, want events 3 and 4", bl)
	}
	brokertest.Publish(t, a, 5, "doc:7")
	if got := brokertest.ReceiveAtLeast(t, onB, 1); brokertest.Seq(t, got[0]) != 5 {
		t.Fatalf("live on B: %+v", got)
	}
}

// TestRedisRestart kills Redis mid-stream: subscriptions stay open,
// Publish and Ready fail with ErrUnavailable while it is down, and after
// the restart every event Redis accepted reaches the subscriber. Its
// events after the restart may all arrive through the stream replay:
// TestResubscribe checks that live delivery resumes.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	metrics := &observer{}
	url := srv.URL() + "?timeout=500ms"
	pub := open(t, url, sse.BrokerOptions{Observer: metrics})
	recv := open(t, url, sse.BrokerOptions{Observer: metrics})
	sub := brokertest.Subscribe(t, recv, sse.SubscribeRequest{Topics: []string{"orders"}, QueueSize: 1000})
	n := publishAccepted(t, pub, 0, 5)
	before := brokertest.ReceiveAtLeast(t, sub, 5)

	srv.Kill()
	checkDown(t, pub, recv, sub)

	srv.Restart()
	// Publish as soon as Redis takes it: some of these land before the
	// subscriber has reconnected and must be replayed from the stream.
	brokertest.Eventually(t, "Publish succeeds after the restart", func() bool {
		_, err := pub.Publish(context.Background(), sse.Message{Topics: []string{"orders"}, Event: "test.event", Data: brokertest.Data(n)})
		if err == nil {
			n++
			return true
		}
		// A pooled connection to the killed server fails under the
		// publish written to it (outcome unknown to the broker, though the
		// dead server ran nothing).
		if !errors.Is(err, sse.ErrUnavailable) && !errors.Is(err, sse.ErrOutcomeUnknown) {
			t.Fatalf("Publish during the restart: %v", err)
		}
		return false
	})
	publishAccepted(t, pub, n, 5)
	// Redis came back without its data: events acknowledged before the
	// crash may be gone, so the subscription ends without a single event
	// of the new dataset, and resuming from its last event yields a resync
	// rather than a silent gap.
	brokertest.Eventually(t, "Ready after the restart", func() bool { return recv.Ready(context.Background()) == nil })
	resumed := resumeAfterLoss(t, recv, sub, before[len(before)-1].ID, "orders")
	// The resumed subscription is live: what is published now arrives.
	want := []int{}
	for i := range 3 {
		publishKeyed(t, pub, 1000+i, "orders")
		want = append(want, 1000+i)
	}
	if got := brokertest.Seqs(t, brokertest.ReceiveAtLeast(t, resumed, 3)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the resync got %v, want %v", got, want)
	}
	if metrics.errors.Load() == 0 || metrics.reconnects.Load() == 0 {
		t.Fatalf("observed %d broker errors and %d reconnects, want both counted", metrics.errors.Load(), metrics.reconnects.Load())
	}
}

// checkDown checks a Redis broker while its server is down: Publish and
// Subscribe fail fast with ErrUnavailable (503), Ready reports it, and
// the subscription sub stays open. The first publishes may fail on a
// pooled connection that broke under them (EOF): the Redis client does not
// say whether it wrote them first, so the broker answers that their
// outcome is unknown (ErrOutcomeUnknown); once the broken connections are
// dropped, a publish finds none and is not published.
func checkDown(t *testing.T, pub, recv sse.Broker, sub sse.Subscription) {
	t.Helper()
	start := time.Now()
	msg := sse.Message{Topics: []string{"orders"}, Event: "test.event", Data: brokertest.Data(-1)}
	_, err := pub.Publish(context.Background(), msg)
	for i := 0; errors.Is(err, sse.ErrOutcomeUnknown) && i < 10; i++ {
		t.Logf("Publish with Redis down: %v", err)
		_, err = pub.Publish(context.Background(), msg)
	}
	if !errors.Is(err, sse.ErrUnavailable) {
		t.Fatalf("Publish with Redis down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Publish with Redis down took %v", d)
	}
	if sse.HTTPStatus(err) != 503 {
		t.Fatalf("HTTPStatus(%v) = %d, want 503", err, sse.HTTPStatus(err))
	}
	brokertest.Eventually(t, "Ready reports ErrUnavailable", func() bool {
		return errors.Is(recv.Ready(context.Background()), sse.ErrUnavailable)
	})
	if _, err := sub.Drain(nil); err != nil {
		t.Fatalf("subscription ended while Redis was down: %v", err)
	}
	start = time.Now()
	for _, req := range []sse.SubscribeRequest{{Topics: []string{"other"}}, {Topics: []string{"orders"}, LastEventID: "1-0"}} {
		if s, err := recv.Subscribe(context.Background(), req); !errors.Is(err, sse.ErrUnavailable) {
			if s != nil {
				_ = s.Close()
			}
			t.Fatalf("Subscribe(%+v) with Redis down: %v, want ErrUnavailable", req, err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Subscribe with Redis down took %v", d)
	}
}

// publishKeyed publishes event n to topic with an idempotency key,
// publishing again with the key while the outcome is unknown: the Redis
// client pipelines over several connections (4 to one server), and each
// one to a server that was restarted fails the first command written to
// it (EOF, outcome unknown to the broker) however many publishes others
// carried since; the key makes the retry publish it once.
func publishKeyed(t *testing.T, pub sse.Broker, n int, topic string) {
	t.Helper()
	msg := sse.Message{Topics: []string{topic}, Event: "test.event", Data: brokertest.Data(n), IdempotencyKey: fmt.Sprintf("keyed-%d", n)}
	brokertest.Eventually(t, "Publish with its key", func() bool {
		_, err := pub.Publish(context.Background(), msg)
		if err != nil && !errors.Is(err, sse.ErrOutcomeUnknown) {
			t.Fatalf("Publish(%d): %v", n, err)
		}
		return err == nil
	})
}

// publishAccepted publishes count events to "orders" after a restart of
// Redis, numbered from n, retrying each until Redis accepts it (each
// pooled connection may fail once more after the restart: a failed
// publish was not accepted, and is not expected). It returns the next
// number.
func publishAccepted(t *testing.T, pub sse.Broker, n, count int) int {
	t.Helper()
	for range count {
		brokertest.Eventually(t, "Publish after the restart", func() bool {
			_, err := pub.Publish(context.Background(), sse.Message{Topics: []string{"orders"}, Event: "test.event", Data: brokertest.Data(n)})
			if err != nil && !errors.Is(err, sse.ErrUnavailable) && !errors.Is(err, sse.ErrOutcomeUnknown) {
				t.Fatalf("Publish after the restart: %v", err)
			}
			return err == nil
		})
		n++
	}
	return n
}

// TestSeedEnvelope publishes the fastapi-sse-events envelope raw on a
// topic's channel, as a Python service would.
func TestSeedEnvelope(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := open(t, srv.URL(), sse.BrokerOptions{TopicPrefix: "app"})
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"comments"}})
	for _, bad := range []string{`not json`, `{"event":"bad\nname","data":{}}`, `{"event":"resync","data":{}}`} {
		srv.MustDo("PUBLISH", "app:comments", bad)
	}
	srv.MustDo("PUBLISH", "app:comments", `{"event":"comment_created","data":{"id": 1, "text":"hi"},"id":"py-123"}`)
	got := brokertest.ReceiveAtLeast(t, sub, 1)
	ev := got[0]
	if ev.Name != "comment_created" || string(ev.Data) != `{"id":1,"text":"hi"}` || ev.ID != "" || ev.Topic != "comments" {
		t.Fatalf("fastapi-sse-events envelope delivered as %+v", ev)
	}
	// Our own messages carry the same envelope, so Python subscribers read them.
	raw := rawSubscriber(t, srv.Addr(), "app:comments")
	id := brokertest.Publish(t, b, 9, "comments")
	var env struct {
		SSEvents int             `json:"ssevents"`
		ID       string          `json:"id"`
		Event    string          `json:"event"`
		Data     json.RawMessage `json:"data"`
	}
	var msg string
	select {
	case msg = <-raw:
	case <-time.After(brokertest.WaitTimeout):
		t.Fatal("no message on the channel")
	}
	if err := json.Unmarshal([]byte(msg), &env); err != nil || env.SSEvents != 1 || env.ID != id ||
		env.Event != "test.event" || string(env.Data) != `{"n":9}` {
		t.Fatalf("message on the channel: %s (%v)", msg, err)
	}
	if got := brokertest.ReceiveAtLeast(t, sub, 1); got[0].ID != id {
		t.Fatalf("own event delivered as %+v", got[0])
	}
}

// rawSubscriber subscribes to channel over a plain RESP connection and
// sends the payload of each message on the returned channel.
func rawSubscriber(t *testing.T, addr, channel string) <-chan string {
	t.Helper()
	conn, lines := dialLines(t, addr)
	if _, err := fmt.Fprintf(conn, "SUBSCRIBE %s\r\n", channel); err != nil {
		t.Fatal(err)
	}
	// Confirmation: *3 $9 subscribe $len channel :1
	for range 6 {
		<-lines
	}
	out := make(chan string, 16)
	go func() {
		defer close(out)
		for {
			var parts []string
			for range 7 { // *3 $7 message $n channel $n payload
				l, ok := <-lines
				if !ok {
					return
				}
				parts = append(parts, l)
			}
			out <- parts[6]
		}
	}()
	return out
}
