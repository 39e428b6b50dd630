package redis_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestPresenceJoinStorm: 1,000 users join at once across three instances
// (half of them with streams on two): exactly 1,000 joins, each user's
// once, on every instance.
func TestPresenceJoinStorm(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ins := []*instance{
		openInstance(t, srv.URL(), presenceOptions(nil)),
		openInstance(t, srv.URL(), presenceOptions(nil)),
		openInstance(t, srv.URL(), presenceOptions(nil)),
	}
	const topic, n = "storm", 1000
	start := time.Now()
	for i := range n {
		user := "u" + strconv.Itoa(i)
		ins[i%3].store.Add(topic, user, nil)
		if i%2 == 0 {
			ins[(i+1)%3].store.Add(topic, user, nil)
		}
	}
	waitSnapshot(t, ins[0], topic, n, n+n/2)
	t.Logf("%d users on 3 instances settled in %v", n, time.Since(start))
	for i, in := range ins {
		eventually(t, "every join seen", func() bool { return in.count(sse.EventJoin, topic, "") >= n },
			func() string { return strconv.Itoa(in.count(sse.EventJoin, topic, "")) })
		barrier(t, ins[i], ins, topic)
	}
	for i, in := range ins {
		seen := map[string]int{}
		for _, ev := range in.events() {
			if ev.Type == sse.EventJoin {
				seen[ev.User]++
			}
		}
		for u := range n {
			if c := seen["u"+strconv.Itoa(u)]; c != 1 {
				t.Fatalf("instance %d saw %d joins of u%d, want 1", i, c, u)
			}
		}
		if j := in.count(sse.EventJoin, topic, ""); j != n+len(ins) { // + the barriers' joins
			t.Fatalf("instance %d saw %d joins, want %d", i, j, n+len(ins))
		}
	}
}

// TestPresenceMemory puts 10,000 members on one topic through one
// instance, checks that they settle within seconds, and measures what
// Redis holds per member (MEMORY USAGE of the topic's keys).
func TestPresenceMemory(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := openInstance(t, srv.URL(), presenceOptions(nil))
	const topic, n = "big", 10000
	start := time.Now()
	for i := range n {
		a.store.Add(topic, "user-"+strconv.Itoa(i), []byte(`{"name":"User `+strconv.Itoa(i)+`"}`))
	}
	snap := waitSnapshot(t, a, topic, n, n)
	settled := time.Since(start)
	if len(snap.Members) != 1000 {
		t.Fatalf("snapshot lists %d members, want the limit, 1000", len(snap.Members))
	}
	total, parts := 0, ""
	for _, k := range []string{"e", "x", "u", "n"} {
		v, err := strconv.Atoi(srv.MustDo("MEMORY", "USAGE", "ssevents:presence:{"+topic+"}:"+k, "SAMPLES", "0"))
		if err != nil {
			t.Fatal(err)
		}
		total += v
		parts += " " + k + "=" + strconv.Itoa(v/n)
	}
	stream, _ := strconv.Atoi(srv.MustDo("MEMORY", "USAGE", "{ssevents:presence}:events", "SAMPLES", "0"))
	t.Logf("%d members settled in %v; Redis holds %d bytes per member (topic keys:%s) + %d bytes per join in the events stream",
		n, settled, total/n, parts, stream/n)
	if total/n > 1000 {
		t.Fatalf("%d bytes per member, want well under 1000", total/n)
	}
}
