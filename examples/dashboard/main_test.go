package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/sse"
)

// testInterval makes the chart move fast enough for a test.
const testInterval = 100 * time.Millisecond

func start(t *testing.T, cfg Config) *testserver.Server {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = testInterval
	}
	h, cleanup, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, h, cleanup)
}

// TestChartIsFedBySSE: the page's chart fills from metrics_tick events
// and is drawn on the canvas; a tick reaches addEventListener with exactly
// the JSON published; moving the slider in one window moves it in the
// other within a second.
func TestChartIsFedBySSE(t *testing.T) {
	t.Parallel()
	broker := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { broker.Close() })
	srv := start(t, Config{SSE: ssevents.Config{Broker: broker}})

	b := browsertest.Shared(t)
	one := b.NewPage(t, srv.URL)
	two := b.NewPage(t, srv.URL)
	for _, p := range []*browsertest.Page{one, two} {
		p.WaitFor("page is live", `document.getElementById('status').dataset.state === 'live'`, 5*time.Second)
		p.WaitFor("chart has samples", `window.samples.length >= 5 && window.drawCount >= 3`, 5*time.Second)
	}
	// The lines are on the canvas: count pixels of the requests/s colour.
	blue := browsertest.Eval[int](one, `(() => {
		const c = document.getElementById('chart');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (Math.abs(d[i] - 0x25) < 40 && Math.abs(d[i+1] - 0x63) < 40 && Math.abs(d[i+2] - 0xeb) < 40 && d[i+3] > 200) n++;
		}
		return n;
	})()`)
	if blue < 100 {
		t.Errorf("chart has %d pixels of the requests/s line, want a drawn line", blue)
	}

	// A tick published by someone else arrives exactly as published.
	known := `{"time":1,"requests_per_second":12.5,"p95_ms":7,"error_rate":0,"load":1,"sse_connections":2,"goroutines":3,"heap_mb":4.5}`
	pub := ssevents.NewPublisher(broker, 0, nil)
	if _, err := pub.Publish(context.Background(), topicMetrics, eventTick, json.RawMessage(known)); err != nil {
		t.Fatal(err)
	}
	one.WaitFor("published tick reaches the listener",
		`window.sseLog.some(e => e.event === 'metrics_tick' && e.data === `+jsString(known)+`)`, 2*time.Second)

	// The slider: change in one window, seen in the other.
	browsertest.Eval[bool](one, `(() => {
		const s = document.getElementById('load');
		s.value = '8';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	two.WaitFor("slider moves in the other window", `document.getElementById('load').value === '8'`, 3*time.Second)
	changedAt := browsertest.Eval[int64](one, `window.loadChangedAt`)
	shownAt := browsertest.Eval[int64](two, `window.loadShownAt[8]`)
	if d := time.Duration(shownAt-changedAt) * time.Millisecond; d > time.Second {
		t.Errorf("load change took %v to show in the other window, want under 1s", d)
	}
	// And the server's samples follow the new load.
	two.WaitFor("samples at the new load", `window.samples.length > 0 && window.samples.at(-1).load === 8`, 3*time.Second)
	two.SaveScreenshot("dashboard")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSamplerPublishes: without a browser, the stream carries one
// metrics_tick per interval with plausible values, and POST /load
// validates its input and announces the change.
func TestSamplerPublishes(t *testing.T) {
	t.Parallel()
	srv := start(t, Config{})
	stream := ssetest.Subscribe(t, srv.URL+"/events?topic=dashboard:metrics,dashboard:control", nil)
	var prev int64
	for range 3 {
		ev := stream.NextNamed(eventTick, 2*time.Second)
		var s Sample
		if err := json.Unmarshal([]byte(ev.Data), &s); err != nil {
			t.Fatal(err)
		}
		if s.Time <= prev || s.Load != 3 || s.RequestsPerSecond <= 0 || s.SSEConnections < 1 || s.Goroutines < 1 {
			t.Errorf("implausible sample %+v after time %d", s, prev)
		}
		prev = s.Time
	}
	for body, want := range map[string]int{`{"level":0}`: 400, `{"level":11}`: 400, `x`: 400, `{"level":5}`: 200} {
		resp, err := http.Post(srv.URL+"/load", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST /load %s: status %d, want %d", body, resp.StatusCode, want)
		}
	}
	ev := stream.NextNamed(eventLoad, 2*time.Second)
	if !strings.HasPrefix(ev.Data, `{"level":5,"changed_at":"`) {
		t.Errorf("load_changed data %s", ev.Data)
	}
}
