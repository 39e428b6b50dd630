package brokertest_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// TestSuiteFailsBrokenBrokers runs the conformance tests that receive
// events against the embedded broker wrapped so that it delivers events
// twice, and checks that each of them fails; and against the plain
// embedded broker, through the same recorder, that each passes.
func TestSuiteFailsBrokenBrokers(t *testing.T) {
	t.Parallel()
	receiving := []string{"PublishSubscribe", "SeveralTopics", "MultiTopicOnce", "ConcurrentOrder",
		"Resume", "ResumeSeveralTopics", "ResumeUnderLoad", "ResumeUnknownID", "ResumeFromCursor",
		"SlowConsumer", "ContextCancel", "SubscriptionClose"}
	tests := []struct {
		name     string
		wrap     func(sse.Broker) sse.Broker
		mustFail []string // the others must pass
	}{
		{"Healthy", func(b sse.Broker) sse.Broker { return b }, nil},
		{"TwiceInOneDrain", func(b sse.Broker) sse.Broker { return &dupBroker{Broker: b} }, receiving},
		{"AgainInTheNextDrain", func(b sse.Broker) sse.Broker { return &dupBroker{Broker: b, later: true} }, receiving},
		// One subscription per topic: an event published to two
		// subscribed topics arrives once on each.
		{"OncePerTopic", func(b sse.Broker) sse.Broker { return &perTopicBroker{Broker: b} },
			[]string{"MultiTopicOnce", "ResumeSeveralTopics"}},
	}
	suite := brokertest.SuiteTests()
	for _, tt := range tests {
		for _, name := range receiving {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				b := tt.wrap(memory.New(brokertest.Options()))
				t.Cleanup(func() { _ = b.Close() })
				rec := run(t, suite[name], b)
				switch want := slices.Contains(tt.mustFail, name); {
				case want && !rec.Failed():
					t.Errorf("%s passed a broken broker (%s)", name, tt.name)
				case !want && rec.Failed():
					t.Errorf("%s failed: %v", name, rec.msgs)
				case want:
					t.Logf("%s failed as it must: %v", name, rec.msgs)
				}
			})
		}
	}
}

// recorder is a testing.TB that records failures instead of reporting
// them; Fatal and FailNow end the goroutine of the test, as in testing.
type recorder struct {
	testing.TB // for Cleanup, Context, Log, TempDir...

	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Helper() {}

func (r *recorder) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) Fail()                          { r.record("Fail") }
func (r *recorder) FailNow()                       { r.record("FailNow"); runtime.Goexit() }
func (r *recorder) Error(args ...any)              { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, a ...any) { r.record(fmt.Sprintf(format, a...)) }
func (r *recorder) Fatal(args ...any)              { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(format string, a ...any) {
	r.record(fmt.Sprintf(format, a...))
	runtime.Goexit()
}
func (r *recorder) Skip(...any)          { r.record("Skip"); runtime.Goexit() }
func (r *recorder) Skipf(string, ...any) { r.record("Skipf"); runtime.Goexit() }
func (r *recorder) SkipNow()             { r.record("SkipNow"); runtime.Goexit() }
func (r *recorder) Failed() bool         { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

// run runs fn against b on a goroutine of its own with a recorder, and
// returns the recorder once fn has returned or called Fatal.
func run(t *testing.T, fn func(testing.TB, sse.Broker), b sse.Broker) *recorder {
	t.Helper()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec, b)
	}()
	<-done
	return rec
}

// dupBroker delivers every live event twice: in the same Drain, or (later)
// once more in the Drain that follows.
type dupBroker struct {
	sse.Broker
	later bool
}

func (b *dupBroker) Subscribe(ctx context.Context, req sse.SubscribeRequest) (sse.Subscription, error) {
	sub, err := b.Broker.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	return &dupSub{Subscription: sub, later: b.later}, nil
}

type dupSub struct {
	sse.Subscription
	later bool

	mu    sync.Mutex
	again []sse.Event // delivered by the last Drain, to deliver again
}

func (s *dupSub) Drain(dst []sse.Event) ([]sse.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.again...)
	s.again = nil
	n := len(dst)
	dst, err := s.Subscription.Drain(dst)
	fresh := slices.Clone(dst[n:])
	if !s.later {
		return append(dst, fresh...), err
	}
	s.again = fresh
	return dst, err
}

// perTopicBroker subscribes to each topic of a request separately and
// merges the subscriptions, so an event of two topics arrives twice.
type perTopicBroker struct{ sse.Broker }

func (b *perTopicBroker) Subscribe(ctx context.Context, req sse.SubscribeRequest) (sse.Subscription, error) {
	if len(req.Topics) < 2 {
		return b.Broker.Subscribe(ctx, req)
	}
	m := &mergedSub{notify: make(chan struct{}, 1), stop: make(chan struct{})}
	for _, topic := range req.Topics {
		one := req
		one.Topics = []string{topic}
		sub, err := b.Broker.Subscribe(ctx, one)
		if err != nil {
			_ = m.Close()
			return nil, err
		}
		m.subs = append(m.subs, sub)
		m.wg.Go(func() {
			for {
				select {
				case <-sub.Notify():
					select {
					case m.notify <- struct{}{}:
					default:
					}
				case <-m.stop:
					return
				}
			}
		})
	}
	return m, nil
}

type mergedSub struct {
	subs   []sse.Subscription
	notify chan struct{} // capacity 1: one pending wake-up is enough
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func (m *mergedSub) Backlog() sse.Backlog {
	var bl sse.Backlog
	for _, s := range m.subs {
		one := s.Backlog()
		bl.Events = append(bl.Events, one.Events...)
		bl.Resync = append(bl.Resync, one.Resync...)
		bl.Cursor = one.Cursor
	}
	return bl
}

func (m *mergedSub) Notify() <-chan struct{} { return m.notify }

func (m *mergedSub) Drain(dst []sse.Event) ([]sse.Event, error) {
	var first error
	for _, s := range m.subs {
		var err error
		dst, err = s.Drain(dst)
		if first == nil {
			first = err
		}
	}
	return dst, first
}

func (m *mergedSub) Close() error {
	m.once.Do(func() {
		close(m.stop)
		for _, s := range m.subs {
			_ = s.Close()
		}
	})
	m.wg.Wait()
	return nil
}
