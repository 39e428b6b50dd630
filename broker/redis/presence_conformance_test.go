package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ssevents/ssevents/internal/presencetest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// presenceOpener returns the conformance suite's Opener on url: two
// instances (brokers) sharing one Redis, each call under a key prefix of
// its own so that its Watch functions and outbox see only its changes.
func presenceOpener(url string) presencetest.Opener {
	var calls atomic.Int64
	return func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
		prefix := fmt.Sprintf("conf%d", calls.Add(1))
		var stores []sse.PresenceStore
		for range 2 {
			b := open(t, url+"?timeout="+testTimeout, sse.BrokerOptions{TopicPrefix: prefix})
			s, err := b.Presence(opts)
			if err != nil {
				t.Fatalf("Presence: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			stores = append(stores, s)
		}
		return stores
	}
}

// The presence conformance suite, cross-instance cases included, on one
// Redis and on a Cluster.
func TestPresenceConformance(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, presenceOpener(redistest.Start(t).URL()))
}

func TestPresenceClusterConformance(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, presenceOpener(redistest.StartCluster(t).URL()))
}
