package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/faults/faultproxy"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

// TestPublishWithLostReply loses the reply of a publish that Redis ran:
// hub 1 reaches Redis through a proxy that forwards the publish script and
// drops what Redis answers, as when Redis is killed between logging a
// write to its append-only file and answering it (the KillRestartAOF
// "phantom"). The event is published (hub 2's subscriber receives it), so
// hub 1 must not answer 503, "not published": it answers 504, outcome
// unknown, and the retry with the same Idempotency-Key, once Redis
// answers again, returns that event's id without publishing it twice:
// the subscriber gets exactly one event for it, with the id the retry
// answered, and the next event after it.
func TestPublishWithLostReply(t *testing.T) {
	t.Parallel()
	const topic = "lost-reply"
	srv := redistest.Start(t)
	p := faultproxy.Start(t, srv.Addr())
	// Hub 1's timeout leaves its publish scripts a deadline seconds away,
	// so that even on a loaded machine the publish reaches Redis in time
	// and runs (a late one would change nothing: see the Pause scenario).
	hubs := startHubs(t, newTestLog(t), "redis://"+p.Addr()+"/0?timeout=4s", srv.URL()+"?timeout=4s")

	c, err := client.New(client.Config{URL: hubs[1].URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan client.Event, 16)
	connected := make(chan struct{}, 1)
	go func() {
		defer close(events)
		for ev, err := range c.Events(ctx, []string{topic}, client.OnConnState(func(cs client.ConnState) {
			if cs.Connected {
				select {
				case connected <- struct{}{}:
				default:
				}
			}
		})) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber did not connect to hub 2")
	}
	next := func(what string) client.Event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no event within 10s: want %s (publishes Redis ran after their deadline: %d)", what, errorCount(t, srv, "LATE"))
		}
		return client.Event{}
	}

	if st, id := publish(t, hubs[0].URL, topic, "warm-up"); st != http.StatusOK {
		t.Fatalf("warm-up publish through hub 1: status %d", st)
	} else if ev := next("the warm-up event"); ev.ID != id {
		t.Fatalf("first event %s, want the warm-up's %s", ev.ID, id)
	}

	p.LoseReplies()
	st, _ := publish(t, hubs[0].URL, topic, "lost")
	if st != http.StatusGatewayTimeout {
		t.Errorf("publish whose reply was lost answered %d, want 504 (outcome unknown)", st)
	}
	p.Heal()

	// Whether Redis ran it (as it does unless the machine is so busy that
	// the script never left hub 1 before its timeout) or not, the retry
	// with the same key settles it: it answers the id of the one event
	// that reaches the subscriber, published once.
	var id string
	deadline := time.Now().Add(10 * time.Second)
	for st != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the retry with the same key still answers %d after 10s", st)
		}
		time.Sleep(50 * time.Millisecond) // hub 1 reconnecting: poll its answer
		st, id = publish(t, hubs[0].URL, topic, "lost")
		if st != http.StatusOK && st != http.StatusServiceUnavailable && st != http.StatusGatewayTimeout {
			t.Fatalf("retry with the same key: status %d", st)
		}
	}
	if ev := next("the publish whose reply was lost, or its retry"); ev.ID != id {
		t.Fatalf("the retry with the same key answered %s, want %s, the id of the event delivered", id, ev.ID)
	}
	st, after := publish(t, hubs[1].URL, topic, "after")
	if st != http.StatusOK {
		t.Fatalf("publish through hub 2: status %d", st)
	}
	if ev := next("the event after the retry"); ev.ID != after {
		t.Fatalf("after the retry got event %s, want %s: the retry published again", ev.ID, after)
	}
}

// publish posts one event to topic through the hub at url with the
// Idempotency-Key key, and returns the status and the id answered.
func publish(t *testing.T, url, topic, key string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(sse.PublishRequest{Topic: topic, Event: "test", Data: json.RawMessage(`{"key":"` + key + `"}`)})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/publish", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /publish: %v", err)
	}
	defer resp.Body.Close()
	var out sse.PublishResponse
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.ID
}
