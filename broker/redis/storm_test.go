package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// The resume storm of the tests: what a hub restart looks like at a test's
// scale. Every stream resumes from its topic's first event at once, so the
// broker subscribes stormTopics new channels and reads stormSubs backlogs
// together. Large enough that a broker which waits for its subscriber
// connection with a single round trip's timeout, or reads each backlog on
// its own, fails it on a 2-core machine.
const (
	stormTopics = 100
	stormSubs   = 4000
	stormEvents = 20 // published per topic before the storm
)

// TestResumeStorm opens stormSubs subscriptions with a Last-Event-ID on
// stormTopics topics all at once, on one broker and on two brokers sharing
// Redis (the two-hub deployment, one hub restarted: every stream of both
// lands on topics the broker has no subscription of yet), with the default
// Redis timeout: a healthy Redis under a storm is not a Redis that is down,
// so no Subscribe may fail. Another hub publishes to every topic
// throughout. Each subscription gets, without a resync, every event of
// its topic after its Last-Event-ID exactly once and in order, from its
// backlog then live; the backlogs are read from Redis a few times per
// topic, not once per subscription.
func TestResumeStorm(t *testing.T) {
	t.Parallel()
	for _, hubs := range []int{1, 2} {
		t.Run(fmt.Sprintf("%dHubs", hubs), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			pub := open(t, srv.URL(), sse.BrokerOptions{})
			topics := make([]string, stormTopics)
			first := make([]string, stormTopics) // each topic's first id: where every stream resumes
			var wg sync.WaitGroup
			for i := range topics {
				topics[i] = fmt.Sprintf("storm:%d", i)
				wg.Go(func() { // topics side by side, each in order
					for n := range stormEvents {
						id, err := pub.Publish(context.Background(), sse.Message{Topics: []string{topics[i]}, Event: "test.event", Data: brokertest.Data(n)})
						if err != nil {
							t.Errorf("Publish: %v", err)
							return
						}
						if n == 0 {
							first[i] = id
						}
					}
				})
			}
			if wg.Wait(); t.Failed() {
				return
			}
			brokers := make([]sse.Broker, hubs)
			for i := range brokers {
				brokers[i] = open(t, srv.URL(), sse.BrokerOptions{})
			}
			// Another hub publishes to every topic throughout the storm: its
			// events fall before, between and after the backlog reads.
			stop, done := make(chan struct{}), make(chan struct{})
			next := make([]int, stormTopics) // per topic: the next event's number
			go func() {
				defer close(done)
				for i := range next {
					next[i] = stormEvents
				}
				for i := 0; ; i = (i + 1) % stormTopics {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := pub.Publish(context.Background(), sse.Message{Topics: []string{topics[i]}, Event: "test.event", Data: brokertest.Data(next[i])}); err != nil {
						t.Errorf("Publish during the storm: %v", err)
						return
					}
					next[i]++
				}
			}()
			halt := sync.OnceFunc(func() { close(stop); <-done })
			t.Cleanup(halt) // before the brokers close, if the storm fails
			reads, began := scriptCalls(t, srv), time.Now()
			subs := storm(t, brokers, topics, first)
			n := scriptCalls(t, srv) - reads
			halt()
			t.Logf("%d Subscribes resumed in %v with %d backlog reads, %d events published meanwhile",
				stormSubs, time.Since(began).Round(time.Millisecond), n, sum(next)-stormTopics*stormEvents)
			// Resumes from one position on one topic share a read: a few
			// per topic at most, and not one per subscription.
			if n > stormSubs/4 {
				t.Fatalf("%d read-only script calls for %d resuming subscriptions on %d topics, want them shared", n, stormSubs, stormTopics)
			}
			// Two more events per topic: the last one each subscription
			// must receive.
			for i, topic := range topics {
				brokertest.Publish(t, pub, next[i], topic)
				brokertest.Publish(t, pub, next[i]+1, topic)
			}
			for i, s := range subs {
				topic, last := topics[i%stormTopics], next[i%stormTopics]+1
				bl := s.Backlog()
				if len(bl.Resync) != 0 || len(bl.Events) < stormEvents-1 {
					t.Fatalf("subscription %d (%s) resumed with resyncs %+v and %d events, want at least %d events",
						i, topic, bl.Resync, len(bl.Events), stormEvents-1)
				}
				for _, ev := range bl.Events {
					if ev.Topic != topic {
						t.Fatalf("subscription %d (%s): backlog event %s of topic %q", i, topic, ev.ID, ev.Topic)
					}
				}
				// Backlog then live: every event after the first, once, in
				// order, up to the last (a duplicate or a gap shows).
				got := brokertest.Seqs(t, bl.Events)
				got = append(got, brokertest.Seqs(t, brokertest.ReceiveAtLeast(t, s, last-len(got)))...)
				want := make([]int, 0, last)
				for n := 1; n <= last; n++ {
					want = append(want, n)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("subscription %d (%s) got backlog and live %v, want 1 to %d once each in order", i, topic, got, last)
				}
			}
		})
	}
}

// sum returns the sum of ns.
func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

// scriptCalls returns how many read-only scripts srv has run (backlog
// reads and syncs run stateScript with EVALSHA_RO, or EVAL_RO the first
// time).
func scriptCalls(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(srv.MustDo("INFO", "commandstats"), "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "cmdstat_evalsha_ro" && name != "cmdstat_eval_ro" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		c, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("INFO commandstats: %q", line)
		}
		n += c
	}
	return n
}

// storm subscribes stormSubs times at once, subscription i to
// topics[i%len(topics)] from last[i%len(topics)] on brokers[i%len(brokers)],
// and fails the test, with a count of the errors, unless every Subscribe
// succeeds. The subscriptions end with the test.
func storm(t *testing.T, brokers []sse.Broker, topics, last []string) []sse.Subscription {
	t.Helper()
	subs := make([]sse.Subscription, stormSubs)
	errs := make([]error, stormSubs)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range subs {
		wg.Go(func() {
			<-start
			req := sse.SubscribeRequest{Topics: []string{topics[i%len(topics)]}, LastEventID: last[i%len(topics)], QueueSize: 100}
			subs[i], errs[i] = brokers[i%len(brokers)].Subscribe(context.Background(), req)
		})
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range subs {
			if s != nil {
				_ = s.Close()
			}
		}
	})
	failed := 0
	var firstErr error
	for _, err := range errs {
		if err != nil {
			if failed == 0 {
				firstErr = err
			}
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d Subscribes with a Last-Event-ID failed in the storm, the first with: %v", failed, stormSubs, firstErr)
	}
	return subs
}

// TestSubscribeWhileRedisPaused freezes Redis (SIGSTOP): it accepts
// connections and answers nothing, unlike a busy Redis, which answers
// each round trip within the timeout. A Subscribe to a new topic and a
// resume on a subscribed one must still fail with ErrUnavailable, within
// a few timeouts, rather than wait for a Redis that does not answer, even
// when more resumes wait than are read at once.
func TestSubscribeWhileRedisPaused(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	srv := redistest.Start(t)
	b := open(t, srv.URL()+"?timeout="+timeout.String(), sse.BrokerOptions{})
	var ids []string
	for n := range 20 {
		ids = append(ids, brokertest.Publish(t, b, n, "paused"))
	}
	brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"paused"}})
	srv.Pause()
	t.Cleanup(srv.Continue)
	reqs := []sse.SubscribeRequest{
		{Topics: []string{"new"}},
		{Topics: []string{"new"}, LastEventID: ids[0]},
	}
	// Resumes from 20 positions: 20 reads, more than are sent at once.
	for _, id := range ids {
		reqs = append(reqs, sse.SubscribeRequest{Topics: []string{"paused"}, LastEventID: id})
	}
	errs := make([]error, len(reqs))
	took := make([]time.Duration, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			start := time.Now()
			var s sse.Subscription
			s, errs[i] = b.Subscribe(t.Context(), req)
			took[i] = time.Since(start)
			if s != nil {
				_ = s.Close()
			}
		})
	}
	wg.Wait()
	for i, req := range reqs {
		if !errors.Is(errs[i], sse.ErrUnavailable) || took[i] > 4*timeout {
			t.Errorf("Subscribe(%+v) with Redis paused: %v after %v, want ErrUnavailable within %v", req, errs[i], took[i], 4*timeout)
		}
	}
}
