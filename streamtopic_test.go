package ssevents_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// rawEvents reads the events of an SSE response as the bytes the server
// wrote, one block (up to and with its blank line) at a time, skipping
// the retry line and comments.
type rawEvents struct {
	t      *testing.T
	blocks chan string
}

func openRaw(t *testing.T, url string, header http.Header) *rawEvents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	r := &rawEvents{t: t, blocks: make(chan string, 64)}
	go func() {
		defer close(r.blocks)
		br := bufio.NewReader(resp.Body)
		var block strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, ":") || strings.HasPrefix(line, "retry:") {
				continue
			}
			block.WriteString(line)
			if line == "\n" {
				if block.Len() > 1 {
					r.blocks <- block.String()
				}
				block.Reset()
			}
		}
	}()
	return r
}

func (r *rawEvents) next() string {
	r.t.Helper()
	select {
	case b, ok := <-r.blocks:
		if !ok {
			r.t.Fatal("stream ended")
		}
		return b
	case <-time.After(5 * time.Second):
		r.t.Fatal("no event within 5s")
	}
	return ""
}

// expectNoneWithin fails if an event arrives within d.
func (r *rawEvents) expectNoneWithin(d time.Duration) {
	r.t.Helper()
	select {
	case b, ok := <-r.blocks:
		if ok {
			r.t.Fatalf("unexpected event %q", b)
		}
	case <-time.After(d):
	}
}

// streamPaths are the three ways a stream is written: the poller (on
// Linux), a goroutine per hijacked connection, and net/http's
// ResponseWriter.
var streamPaths = []struct {
	name string
	cfg  ssevents.Config
}{
	{"poller", ssevents.Config{}},
	{"goroutine", ssevents.Config{DisablePoller: true}},
	{"responsewriter", ssevents.Config{DisableHijack: true}},
}

func TestTopicFieldOnStreamOfSeveralTopics(t *testing.T) {
	t.Parallel()
	for _, path := range streamPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			app, srv := newServer(t, path.cfg)
			one := openRaw(t, srv.URL+"/events?topic=a", nil)
			two := openRaw(t, srv.URL+"/events?topic=a,b", nil)

			idA := publish(t, app, "a", "tick", map[string]int{"n": 1})
			idB := publish(t, app, "b", "tock", map[string]int{"n": 2})
			// To both topics, b first: delivered once, on b, the first of
			// its topics the stream has.
			idBoth, err := app.PublishTopics(context.Background(), []string{"b", "a"}, "both", map[string]int{"n": 3})
			if err != nil {
				t.Fatal(err)
			}

			// One topic: the bytes as before the field existed (golden).
			for _, want := range []string{
				"id: " + idA + "\nevent: tick\ndata: {\"n\":1}\n\n",
				"id: " + idBoth + "\nevent: both\ndata: {\"n\":3}\n\n",
			} {
				if got := one.next(); got != want {
					t.Fatalf("one-topic stream wrote %q, want %q", got, want)
				}
			}
			// Two topics: each event names the topic it came on, after
			// its id and event lines.
			for _, want := range []string{
				"id: " + idA + "\nevent: tick\ntopic: a\ndata: {\"n\":1}\n\n",
				"id: " + idB + "\nevent: tock\ntopic: b\ndata: {\"n\":2}\n\n",
				"id: " + idBoth + "\nevent: both\ntopic: b\ndata: {\"n\":3}\n\n",
			} {
				if got := two.next(); got != want {
					t.Fatalf("two-topic stream wrote %q, want %q", got, want)
				}
			}

			// The backlog replayed after a reconnection carries it too,
			// and a resync names its topic in the field as in its data.
			replay := openRaw(t, srv.URL+"/events?topic=a,b", http.Header{"Last-Event-Id": {idA}})
			if got, want := replay.next(), "id: "+idB+"\nevent: tock\ntopic: b\ndata: {\"n\":2}\n\n"; got != want {
				t.Fatalf("replay wrote %q, want %q", got, want)
			}
			// An event of both topics is replayed once, on one of them:
			// the history does not keep the order the publish named them
			// in, so the embedded broker's replay names the stream's first.
			got := replay.next()
			wantA := "id: " + idBoth + "\nevent: both\ntopic: a\ndata: {\"n\":3}\n\n"
			if got != wantA && got != strings.Replace(wantA, "topic: a", "topic: b", 1) {
				t.Fatalf("replay wrote %q, want %q (or on topic b)", got, wantA)
			}
			replay.expectNoneWithin(100 * time.Millisecond)
			resync := openRaw(t, srv.URL+"/events?topic=a,b", http.Header{"Last-Event-Id": {"not-an-id"}})
			for _, topic := range []string{"a", "b"} {
				got := resync.next()
				ev, err := wire.NewParser(strings.NewReader(got)).Next()
				if err != nil || ev.Name != "resync" || ev.Topic != topic || !strings.Contains(ev.Data, `"topic":"`+topic+`"`) {
					t.Fatalf("resync %q parsed to %+v, %v; want topic %s", got, ev, err, topic)
				}
			}
		})
	}
}

// Presence events name their topic on a stream of several topics, and
// carry no topic line on a stream of one.
func TestTopicFieldOnPresenceEvents(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, presenceConfig(time.Hour))
	one := subscribe(t, srv.URL+"/events?topic=room:7&presence=true", as("zed"))
	two := subscribe(t, srv.URL+"/events?topic=room:7,room:8&presence=true", as("ann"))
	if ev := nextNamed(one, "zed"); ev.Name != sse.EventPresence || ev.Topic != "" {
		t.Fatalf("one-topic stream: first event %s on topic %q, want a presence snapshot without a topic line", ev.Name, ev.Topic)
	}
	for _, topic := range []string{"room:7", "room:8"} {
		ev := nextNamed(two, "ann")
		if ev.Name != sse.EventPresence || ev.Topic != topic || !strings.Contains(ev.Data, `"topic":"`+topic+`"`) {
			t.Fatalf("two-topic stream: event %s %s on topic %q, want the snapshot of %s", ev.Name, ev.Data, ev.Topic, topic)
		}
	}
	subscribe(t, srv.URL+"/events?topic=room:8", as("bob"))
	if ev := nextNamed(two, "ann"); ev.Name != sse.EventJoin || ev.Topic != "room:8" || !strings.Contains(ev.Data, `"bob"`) {
		t.Fatalf("two-topic stream: event %s %s on topic %q, want bob's join on room:8", ev.Name, ev.Data, ev.Topic)
	}
	if ev := nextNamed(one, "zed"); ev.Name != sse.EventJoin || ev.Topic != "" {
		t.Fatalf("one-topic stream: event %s %s on topic %q, want ann's join without a topic line", ev.Name, ev.Data, ev.Topic)
	}
}
