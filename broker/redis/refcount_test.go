package redis_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// dialLines connects to addr and returns the connection and its reply
// lines (without CRLF); both end when the test does.
func dialLines(t *testing.T, addr string) (net.Conn, <-chan string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	})
	t.Cleanup(func() {
		conn.Close()
		for range lines { // let the reader finish
		}
		wg.Wait()
	})
	return conn, lines
}

// numsub returns the subscriber count of channel on srv (PUBSUB NUMSUB,
// or SHARDNUMSUB on a cluster node).
func numsub(t *testing.T, srv *redistest.Server, shard bool, channel string) int {
	t.Helper()
	cmd := "NUMSUB"
	if shard {
		cmd = "SHARDNUMSUB"
	}
	out := strings.Split(srv.MustDo("PUBSUB", cmd, channel), "\n")
	n, err := strconv.Atoi(out[len(out)-1])
	if err != nil {
		t.Fatalf("PUBSUB %s %s: %q", cmd, channel, out)
	}
	return n
}

// clients returns the number of client connections of srv (without the
// one asking) and how many of them are subscribed to channels.
func clients(t *testing.T, srv *redistest.Server) (all, subscribers int) {
	t.Helper()
	for _, line := range strings.Split(srv.MustDo("CLIENT", "LIST"), "\n") {
		if strings.Contains(line, "cmd=client|list") || line == "" {
			continue
		}
		all++
		if !strings.Contains(line, " sub=0 ") {
			subscribers++
		}
	}
	return all, subscribers
}

// TestSubscriberRefCount opens many subscriptions on few topics: one
// Redis subscription per topic on one connection, none left after the
// subscriptions end.
func TestSubscriberRefCount(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := open(t, srv.URL(), sse.BrokerOptions{})
	topics := []string{"t:0", "t:1", "t:2", "t:3", "t:4"}
	first := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics[:1]})
	base, _ := clients(t, srv)
	var subs []sse.Subscription
	for i := range 50 {
		s, err := b.Subscribe(t.Context(), sse.SubscribeRequest{Topics: []string{topics[i%5], topics[(i+1)%5]}})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, topic := range topics {
		if n := numsub(t, srv, false, topic); n != 1 {
			t.Fatalf("PUBSUB NUMSUB %s = %d with 50 local subscriptions, want 1", topic, n)
		}
	}
	// rueidis may open a few more pipelined command connections under
	// load; subscriptions must add none.
	if all, subs := clients(t, srv); subs != 1 || all > base+4 {
		t.Fatalf("%d client connections (%d subscribed) with 51 subscriptions, %d with one: want one subscriber connection", all, subs, base)
	}
	if n := b.TopicCount(); n != 5 {
		t.Fatalf("TopicCount = %d, want 5", n)
	}
	brokertest.Publish(t, b, 1, topics[0])
	if got := brokertest.ReceiveAtLeast(t, first, 1); brokertest.Seq(t, got[0]) != 1 {
		t.Fatalf("got %+v", got)
	}
	for _, s := range subs {
		_ = s.Close()
	}
	_ = first.Close()
	for _, topic := range topics {
		brokertest.Eventually(t, "UNSUBSCRIBE "+topic, func() bool { return numsub(t, srv, false, topic) == 0 })
	}
	if n := b.TopicCount(); n != 0 {
		t.Fatalf("TopicCount = %d after every subscription ended", n)
	}
	// A topic subscribed again after its UNSUBSCRIBE works.
	again := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: topics[:1]})
	brokertest.Publish(t, b, 2, topics[0])
	if got := brokertest.ReceiveAtLeast(t, again, 1); brokertest.Seq(t, got[0]) != 2 {
		t.Fatalf("got %+v", got)
	}
}
