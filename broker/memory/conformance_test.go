package memory_test

import (
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/sse"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T) sse.Broker {
		return memory.New(brokertest.Options())
	})
}

func TestMain(m *testing.M) { leakcheck.Main(m) }
