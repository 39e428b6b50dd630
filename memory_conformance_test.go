package ssevents_test

import (
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/brokertest"
)

func TestMemoryBrokerConformance(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T) ssevents.Broker {
		return ssevents.NewMemoryBroker(brokertest.Options())
	})
}
