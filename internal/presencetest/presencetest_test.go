package presencetest_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/internal/presencetest"
	"github.com/ssevents/ssevents/sse"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// instance is one of several instances over one shared store: the
// embedded broker's store playing the shared backend.
type instance struct{ sse.PresenceStore }

// Close does nothing: the shared store is closed once, by the test.
func (instance) Close() error { return nil }

// openShared opens one embedded store with opts and returns n instances
// of it.
func openShared(t *testing.T, opts sse.PresenceOptions, n int) []sse.PresenceStore {
	b := memory.New(sse.BrokerOptions{})
	s, err := b.Presence(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	out := make([]sse.PresenceStore, n)
	for i := range out {
		out[i] = instance{s}
	}
	return out
}

// TestSuiteAcrossInstances runs the suite, the cases across instances
// included, on three instances of one store.
func TestSuiteAcrossInstances(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
		return openShared(t, opts, 3)
	})
}

// TestSuiteFailsBrokenStores runs the conformance tests against stores
// broken in one way each, and checks that the tests that must see it
// fail; and against healthy ones, through the same recorder, that each
// passes.
func TestSuiteFailsBrokenStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		instances int // how many open returns
		// open returns the instances to test, with the case's options.
		open     func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore
		mustFail []string // nil: every test must pass
	}{
		{"Healthy", 2, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore { return openShared(t, opts, 2) }, nil},
		{"JoinsTwice", 1, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
			return []sse.PresenceStore{&twiceStore{PresenceStore: openShared(t, opts, 1)[0]}}
		}, []string{"JoinOncePerUser", "AnonymousCountedNotListed", "LeaveAfterGrace", "ReconnectWithinGrace", "InfoReplaced", "ThousandUsers", "WatchOrder"}},
		{"NoGrace", 1, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
			opts.Grace = time.Nanosecond
			return []sse.PresenceStore{&hastyStore{openShared(t, opts, 1)[0]}}
		}, []string{"ConnectionCounts", "LeaveAfterGrace", "ReconnectWithinGrace"}},
		{"NoRedelivery", 1, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
			return []sse.PresenceStore{&onceStore{PresenceStore: openShared(t, opts, 1)[0]}}
		}, []string{"Outbox"}},
		{"UnsharedInstances", 2, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
			return append(openShared(t, opts, 1), openShared(t, opts, 1)...)
		}, []string{"CrossInstanceMember", "CrossInstanceOutbox"}},
	}
	for _, tt := range tests {
		for _, c := range presencetest.Cases() {
			if c.Cross && tt.instances < 2 {
				continue // the suite runs it with several instances only
			}
			t.Run(tt.name+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				rec := run(t, c.Run, tt.open(t, c.Opts))
				switch want := slices.Contains(tt.mustFail, c.Name); {
				case want && !rec.Failed():
					t.Errorf("%s passed a broken store (%s)", c.Name, tt.name)
				case tt.mustFail == nil && rec.Failed():
					t.Errorf("%s failed: %v", c.Name, rec.msgs)
				case want:
					t.Logf("%s failed as it must: %v", c.Name, rec.msgs)
				}
			})
		}
	}
}

// twiceStore calls its Watch functions twice with every join.
type twiceStore struct{ sse.PresenceStore }

func (s *twiceStore) Watch(fn func(sse.PresenceEvent)) {
	s.PresenceStore.Watch(func(ev sse.PresenceEvent) {
		fn(ev)
		if ev.Type == sse.EventJoin {
			fn(ev)
		}
	})
}

// hastyStore, opened with a grace of 1 ns, makes a member leave when its
// last stream ends: its Remove returns once the member left.
type hastyStore struct{ sse.PresenceStore }

func (s *hastyStore) Remove(topic, user string) {
	s.PresenceStore.Remove(topic, user)
	for user != "" {
		snap, err := s.Snapshot(context.Background(), topic, 1<<20)
		if err != nil {
			return
		}
		if i := slices.IndexFunc(snap.Members, func(m sse.PresenceMember) bool { return m.User == user }); i < 0 || snap.Members[i].Connections > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// onceStore's Next never hands an event out again.
type onceStore struct {
	sse.PresenceStore
	mu     sync.Mutex
	handed map[string]bool
}

func (s *onceStore) Next(ctx context.Context, max int) ([]sse.PresenceEvent, error) {
	for {
		evs, err := s.PresenceStore.Next(ctx, max)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.handed == nil {
			s.handed = map[string]bool{}
		}
		evs = slices.DeleteFunc(evs, func(ev sse.PresenceEvent) bool { return s.handed[ev.ID] })
		for _, ev := range evs {
			s.handed[ev.ID] = true
		}
		s.mu.Unlock()
		if len(evs) > 0 {
			return evs, nil
		}
	}
}

// recorder is a testing.TB that records failures instead of reporting
// them; Fatal and FailNow end the goroutine of the test, as in testing.
type recorder struct {
	testing.TB // for Name, Cleanup, Log...

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
func (r *recorder) Failed() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

// run runs fn against stores on a goroutine of its own with a recorder,
// and returns the recorder once fn has returned or called Fatal.
func run(t *testing.T, fn func(testing.TB, []sse.PresenceStore), stores []sse.PresenceStore) *recorder {
	t.Helper()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec, stores)
	}()
	<-done
	return rec
}
