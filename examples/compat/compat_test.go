package compat_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/hub"
)

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }

// rawStream is what ssevents writes for events without a name on a stream
// of several topics (the topic line before the data, the id before it),
// served as it is: the hub's publish API always names its events.
const rawStream = "retry: 1000\n\n" +
	"topic: a\ndata: m1\n\n" +
	"id: 5-0\ntopic: b\ndata: {\"m\":2}\n\n"

// received is one event as a reader reports it.
type received struct {
	Type        string `json:"type"`
	Data        string `json:"data"`
	LastEventID string `json:"lastEventId"`
}

// fixture is a hub plus /raw (rawStream) on one loopback origin.
type fixture struct {
	hub *hub.Hub
	srv *testserver.Server
}

func start(t *testing.T) *fixture {
	t.Helper()
	cfg := hub.Config{}
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, rawStream)
		w.(http.Flusher).Flush()
		select { // held open: a closed stream would be reconnected
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	return &fixture{hub: h, srv: testserver.Start(t, mux, h.Close)}
}

// publish publishes the three events of a two-topic stream: tick on a,
// one named "message" on b (a reader delivers it as a message event) and
// both on a and b (delivered once). It returns what a reader must report.
func (f *fixture) publish(t *testing.T) []received {
	t.Helper()
	ctx := context.Background()
	app := f.hub.App()
	id1, err1 := app.Publish(ctx, "a", "tick", map[string]int{"n": 1})
	id2, err2 := app.Publish(ctx, "b", "message", "two")
	id3, err3 := app.PublishTopics(ctx, []string{"a", "b"}, "both", 3)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return []received{{"tick", `{"n":1}`, id1}, {"message", `"two"`, id2}, {"both", "3", id3}}
}

// rawWant is what a reader must report for rawStream.
var rawWant = []received{{"message", "m1", ""}, {"message", `{"m":2}`, "5-0"}}

func check(t *testing.T, reader string, got, want []received) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s received\n%+v, want\n%+v", reader, got, want)
	}
}

// Chromium's EventSource delivers named and message events with their
// data and ids when each carries a topic line.
func TestEventSourceInChromium(t *testing.T) {
	f := start(t)
	p := browsertest.Shared(t).NewPage(t, f.srv.URL+"/")
	listen := func(path string) string {
		return fmt.Sprintf(`(() => {
			window.got = []; window.opened = false;
			const es = new EventSource(%q);
			const on = (ev) => window.got.push({type: ev.type, data: ev.data, lastEventId: ev.lastEventId});
			es.onopen = () => { window.opened = true; };
			es.onmessage = on;
			es.addEventListener("tick", on);
			es.addEventListener("both", on);
			window.es = es;
			return true;
		})()`, path)
	}
	browsertest.Eval[bool](p, listen("/events?topic=a,b"))
	p.WaitFor("the stream to open", `window.opened`, 5*time.Second)
	want := f.publish(t)
	p.WaitFor("three events", `window.got.length >= 3`, 5*time.Second)
	check(t, "EventSource", browsertest.Eval[[]received](p, `window.got`), want)

	browsertest.Eval[bool](p, `(() => { window.es.close(); return true; })()`)
	browsertest.Eval[bool](p, listen("/raw"))
	p.WaitFor("two events", `window.got.length >= 2`, 5*time.Second)
	check(t, "EventSource", browsertest.Eval[[]received](p, `window.got`), rawWant)
}
