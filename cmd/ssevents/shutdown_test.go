package main_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/check"
	"github.com/ssevents/ssevents/internal/redistest"
)

// Shape of the SIGTERM runs: 1,000 streams over 10 topics (200 streams a
// topic, two topics a stream), 100 publishes a second for 10 s, SIGTERM
// termAfter into the publishing. History holds 100 events a topic and a
// topic gets 10 a second, so a restart of a few seconds stays inside it.
const (
	termStreams  = 1000
	termTopics   = 10
	termRate     = 100
	termDuration = 10 * time.Second
	termAfter    = 3 * time.Second
	// termLimit is the default SSE_SHUTDOWN_TIMEOUT_SECONDS: the hub
	// must be gone within it.
	termLimit = 10 * time.Second
	// restartGap is how long the port stays closed between the old hub's
	// exit and the new hub's start: long enough that publishes at
	// termRate meet it (a dozen or more, so the retries the test asserts
	// never depend on luck), far shorter than the client's retry budget.
	restartGap = 300 * time.Millisecond
)

// TestShutdown_SIGTERMUnderLoad: a hub process gets SIGTERM while 1,000
// streams are open and publishes are in flight, exits 0, and a new hub
// process starts on the same port. The checker runs throughout and must
// see nothing lost, phantom, duplicated or reordered. With the embedded
// broker the new hub knows none of the old ids, so its streams resync;
// with Redis (a second hub sharing it) they resume from Redis history.
func TestShutdown_SIGTERMUnderLoad(t *testing.T) {
	bin := buildHub(t)
	tests := []struct {
		name  string
		redis bool
		// hubs is how many hub processes run; the first gets SIGTERM.
		hubs int
	}{
		{"embedded broker", false, 1},
		{"redis", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each run loads both cores.
			var env []string
			if tt.redis {
				env = append(env, "SSE_REDIS_URL="+redistest.Start(t).URL())
			}
			var hubs []*hubProc
			var urls []string
			for range tt.hubs {
				h := startHubProc(t, bin, freeAddr(t), env...)
				hubs, urls = append(hubs, h), append(urls, h.url())
			}

			type result struct {
				rep check.Report
				err error
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				rep, err := check.Run(t.Context(), check.Config{
					URLs: urls, Streams: termStreams, Topics: termTopics, Rate: termRate,
					Duration: termDuration, Drain: 10 * time.Second, ConnectTimeout: 20 * time.Second,
				})
				done <- result{rep, err}
			}()

			// The checker publishes once every stream is open.
			waitStreams(t, hubs, termStreams, 25*time.Second)
			opened := time.Since(start)
			time.Sleep(termAfter)
			victim := hubs[0]
			took := victim.terminate(t, termLimit)
			time.Sleep(restartGap)
			restartAt := time.Now()
			restarted := startHubProc(t, bin, victim.addr, env...)
			t.Logf("streams open after %v; SIGTERM to exit 0 took %v; the new hub was ready after %v",
				opened.Round(time.Millisecond), took.Round(time.Millisecond), time.Since(restartAt).Round(time.Millisecond))

			res := <-done
			t.Logf("old hub log:\n%s", victim.log)
			t.Logf("checker ran %v\n%s", time.Since(start).Round(time.Millisecond), res.rep.String())
			if res.err != nil {
				t.Fatalf("check: %v", res.err)
			}
			rep := res.rep
			if !rep.OK() {
				t.Errorf("SIGTERM and restart broke the promise: %s\nold hub log:\n%s\nnew hub log:\n%s",
					rep.Violations(), victim.log, restarted.log)
			}
			if rep.StreamsOpened != termStreams || rep.Acked == 0 {
				t.Errorf("streams opened %d of %d, acked %d: the run did not run", rep.StreamsOpened, termStreams, rep.Acked)
			}
			// Every stream on the terminated hub was ended, and came back.
			if onVictim := termStreams / tt.hubs; rep.Reconnects < onVictim {
				t.Errorf("reconnects %d, want at least the %d streams of the terminated hub", rep.Reconnects, onVictim)
			}
			// The shutdown refused publishes (503) or the hub was away
			// (connection refused): the client retried.
			if rep.Retries == 0 {
				t.Error("no publish was retried: the shutdown and restart went unnoticed by the publishers")
			}
			if tt.redis {
				// Resumes stay inside the Redis history: a resync
				// would be one the history did not need.
				if rep.Resyncs != rep.ResyncsJustified {
					t.Errorf("resyncs %d, justified %d: a stream resynced though Redis held its events", rep.Resyncs, rep.ResyncsJustified)
				}
			} else if rep.Resyncs == 0 {
				// The new embedded hub does not know the old ids.
				t.Error("no resync: the restarted embedded hub cannot know the ids of the old one")
			}
		})
	}
}

// waitStreams waits until the hubs serve n streams together.
func waitStreams(t *testing.T, hubs []*hubProc, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		total := 0
		for _, h := range hubs {
			total += h.connections()
		}
		if total >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hubs serve %d streams after %v, want %d", total, limit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hub that shuts down stops taking connections before it ends its
// streams: a stream's reconnection then finds no listener (and retries
// elsewhere, or after the restart), never this hub's 503 "shutting down",
// after which a browser's EventSource gives up for good.
func TestShutdown_closesTheListenerBeforeEndingStreams(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	addr := strings.TrimPrefix(m.URL(), "http://")
	s := subscribe(t, eventsURL(m, "a"), nil)
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	s.wantEnd()
	// The stream has ended: a reconnection now must not be answered.
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = fmt.Fprintf(conn, "GET /events?topic=a HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		if line, rerr := bufio.NewReader(conn).ReadString('\n'); rerr == nil {
			t.Errorf("a reconnection after the stream ended was answered %q; want no listener", strings.TrimSpace(line))
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
}
