package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// TestStreamReconnectsLikeEventSource serves one stream three answers: a
// 200 with one event that then ends, a 503, and a 200 with the next event.
// The stream must come back after the retry the server sent, with the
// Last-Event-ID it received, count the 503 as an answer an EventSource
// gives up on, and complete the phase once it has both events.
func TestStreamReconnectsLikeEventSource(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		lastIDs []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		if n == 2 {
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprintf(w, "retry: 10\n\nid: 1-%d\nevent: storm\ndata: \"t0:%d\"\n\n", n/2+1, n/2)
		w.(http.Flusher).Flush()
		if n == 3 {
			<-r.Context().Done() // held open, as a live stream
		}
	}))
	t.Cleanup(srv.Close)

	r := newRun(config{topics: 1})
	r.pubs[0] = []*pub{
		{data: `"t0:0"`, outcome: acked, id: streamid.ID{Ms: 1, Seq: 1}},
		{data: `"t0:1"`, outcome: acked, id: streamid.ID{Ms: 1, Seq: 2}},
	}
	s := &stream{topic: 0, hub: &hubProc{addr: srv.Listener.Addr().String()}, run: r}
	r.streams = []*stream{s}
	ph := r.newPhase()

	ctx, cancel := context.WithCancel(context.Background())
	opened := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { s.loop(ctx, opened) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := <-opened; err != nil {
		t.Fatalf("first connection: %v", err)
	}
	select {
	case <-ph.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream never received both events")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "1-1", "1-1"}; !slices.Equal(lastIDs, want) {
		t.Errorf("Last-Event-ID of each request = %q, want %q", lastIDs, want)
	}
	if s.attempts != 2 || s.statuses[http.StatusServiceUnavailable] != 1 || !s.gaveUp {
		t.Errorf("attempts %d, statuses %v, gave up %v; want 2, one 503, true", s.attempts, s.statuses, s.gaveUp)
	}
	if s.retry != 10*time.Millisecond {
		t.Errorf("retry = %v, want the server's 10ms", s.retry)
	}
	if v := judge(r.pubs[0], s.got, s.resyncs); v != (verdict{received: 2, expected: 2}) {
		t.Errorf("verdict = %+v, want both events once, in order", v)
	}
}
