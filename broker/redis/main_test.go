package redis_test

import (
	"context"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/leakcheck"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

func TestMain(m *testing.M) {
	// rueidis closes connections it replaced after a cluster topology
	// refresh from a goroutine that sleeps 5s first, and delays topology
	// refreshes after a MOVED reply in another; they are the library's,
	// not stopped by Client.Close, and end on their own.
	leakcheck.Main(m,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}

// open opens a Redis broker for rawURL and closes it when the test ends.
func open(t *testing.T, rawURL string, opts sse.BrokerOptions) *redis.Broker {
	t.Helper()
	b, err := sse.OpenBroker(context.Background(), rawURL, opts)
	if err != nil {
		t.Fatalf("OpenBroker(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.(*redis.Broker)
}

// testTimeout is the Redis round-trip bound of the conformance brokers:
// above the 2s default, because -race on a loaded 2-core CI machine can
// stall a process that long; a healthy Redis answers in microseconds.
const testTimeout = "5s"

// holder is a Redis broker with its in-flight test hook in reach of the
// conformance suite (brokertest.InFlightHolder).
type holder struct{ *redis.Broker }

func (h holder) SetInFlightHook(f func(sse.Message)) { redis.SetInFlightHook(h.Broker, f) }

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	brokertest.Run(t, func(t *testing.T) sse.Broker {
		return holder{open(t, srv.URL()+"?timeout="+testTimeout, brokertest.Options())}
	})
}

func TestClusterConformance(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	brokertest.Run(t, func(t *testing.T) sse.Broker {
		return holder{open(t, c.URL()+"?timeout="+testTimeout, brokertest.Options())}
	})
}

// observer counts what a broker reports (sse.EnvelopeObserver).
type observer struct{ errors, reconnects, malformed atomic.Int64 }

func (o *observer) BrokerError()       { o.errors.Add(1) }
func (o *observer) BrokerReconnect()   { o.reconnects.Add(1) }
func (o *observer) EnvelopeMalformed() { o.malformed.Add(1) }
