package redis_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestPosition runs the position tests on one instance.
func TestPosition(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	brokertest.RunPosition(t, func(t *testing.T) (sse.Broker, sse.Broker) {
		b := open(t, srv.URL()+"?timeout="+testTimeout, brokertest.PositionOptions())
		return b, b
	})
}

// TestPositionAcrossInstances runs them with positions taken on one
// instance and resumed on another.
func TestPositionAcrossInstances(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	brokertest.RunPosition(t, func(t *testing.T) (sse.Broker, sse.Broker) {
		return open(t, srv.URL()+"?timeout="+testTimeout, brokertest.PositionOptions()),
			open(t, srv.URL()+"?timeout="+testTimeout, brokertest.PositionOptions())
	})
}

// TestClusterPosition runs them on a Redis Cluster, across instances.
func TestClusterPosition(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	brokertest.RunPosition(t, func(t *testing.T) (sse.Broker, sse.Broker) {
		return open(t, c.URL()+"?timeout="+testTimeout, brokertest.PositionOptions()),
			open(t, c.URL()+"?timeout="+testTimeout, brokertest.PositionOptions())
	})
}

// TestPositionFreshRedis: a position taken on a Redis that never saw a
// publish (no id record, no dataset yet) resumes without a resync.
func TestPositionFreshRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := open(t, srv.URL(), brokertest.PositionOptions())
	b := open(t, srv.URL(), brokertest.PositionOptions())
	pos := brokertest.TakePosition(t, a, "ticket:1")
	brokertest.Publish(t, b, 1, "ticket:1")
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"ticket:1"}, LastEventID: pos})
	bl := sub.Backlog()
	if len(bl.Resync) != 0 || len(bl.Events) != 1 || brokertest.Seq(t, bl.Events[0]) != 1 {
		t.Fatalf("backlog = %+v, want event 1 and no resync", bl)
	}
}

// TestPositionErrors: Position after Close is ErrBrokerClosed, and with
// Redis gone ErrUnavailable.
func TestPositionErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	gone := open(t, srv.URL()+"?timeout=500ms", sse.BrokerOptions{})
	closed := open(t, srv.URL(), sse.BrokerOptions{})
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := closed.Position(context.Background(), []string{"a"}); !errors.Is(err, sse.ErrBrokerClosed) {
		t.Fatalf("Position after Close = %v, want ErrBrokerClosed", err)
	}
	srv.Kill()
	if _, err := gone.Position(context.Background(), []string{"a"}); !errors.Is(err, sse.ErrUnavailable) {
		t.Fatalf("Position with Redis stopped = %v, want ErrUnavailable", err)
	}
}
