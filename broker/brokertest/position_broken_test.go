package brokertest_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// TestPositionSuiteFailsBrokenBrokers runs the position tests against
// brokers whose positions are wrong, and checks that those that must
// catch it fail; against the healthy embedded broker, that all pass.
func TestPositionSuiteFailsBrokenBrokers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		wrap     func(*memory.Broker) sse.Broker
		mustFail []string // the others must pass
	}{
		{"Healthy", func(b *memory.Broker) sse.Broker { return b }, nil},
		// The first position forever: events before later positions
		// are replayed.
		{"Stale", func(b *memory.Broker) sse.Broker { return &stalePositioner{Broker: b} },
			[]string{"WithHistory", "Concurrent"}},
		// A position the broker cannot tell: a resync.
		{"Ahead", func(b *memory.Broker) sse.Broker { return &aheadPositioner{Broker: b} },
			[]string{"FreshTopic", "WithHistory", "SeveralTopics", "OtherTopicsMove", "Concurrent"}},
	}
	suite := brokertest.PositionSuiteTests()
	for _, tt := range tests {
		for name, fn := range suite {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				b := tt.wrap(memory.New(brokertest.PositionOptions()))
				t.Cleanup(func() { _ = b.Close() })
				rec := run(t, func(tb testing.TB, b sse.Broker) { fn(tb, b, b) }, b)
				switch want := slices.Contains(tt.mustFail, name); {
				case want && !rec.Failed():
					t.Errorf("%s passed a broken broker (%s)", name, tt.name)
				case !want && rec.Failed():
					t.Errorf("%s failed: %v", name, rec.msgs)
				}
			})
		}
	}
}

// stalePositioner answers its first position forever.
type stalePositioner struct {
	*memory.Broker
	once  sync.Once
	first string
	err   error
}

func (s *stalePositioner) Position(ctx context.Context, topics []string) (string, error) {
	s.once.Do(func() { s.first, s.err = s.Broker.Position(ctx, topics) })
	if s.err != nil {
		return s.Broker.Position(ctx, topics)
	}
	return s.first, nil
}

// aheadPositioner answers a position an hour after the broker's: no
// broker can tell such an id, so every resume from it is a resync.
type aheadPositioner struct{ *memory.Broker }

func (a *aheadPositioner) Position(ctx context.Context, topics []string) (string, error) {
	pos, err := a.Broker.Position(ctx, topics)
	if err != nil {
		return "", err
	}
	id, err := streamid.Parse(pos)
	if err != nil {
		return "", err
	}
	return streamid.ID{Ms: id.Ms + 3_600_000}.String(), nil
}
