package memory_test

import (
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/sse"
)

// holder is the embedded broker with its in-flight test hook in reach of
// the conformance suite (brokertest.InFlightHolder).
type holder struct{ *memory.Broker }

func (h holder) SetInFlightHook(f func(sse.Message)) { memory.SetInFlightHook(h.Broker, f) }

func TestConformance(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T) sse.Broker {
		return holder{memory.New(brokertest.Options())}
	})
}

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestConformanceDurable runs the suite on the broker with a data
// directory, fsync always.
func TestConformanceDurable(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T) sse.Broker {
		opts := brokertest.Options()
		opts.DataDir = t.TempDir()
		b, err := memory.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		return holder{b}
	})
}
