package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	main "github.com/ssevents/ssevents/cmd/ssevents"
)

// silentHub acknowledges every publish and delivers nothing: every event
// is lost.
func silentHub(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1-1"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return srv.URL
}

// resyncHub acknowledges every publish and, instead of its event, sends
// every stream a resync of its topic: nothing is lost by the letter, but
// no resync is justified.
func resyncHub(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	var mu sync.Mutex
	streams := map[chan string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		ch := make(chan string, 1000) // more than a test publishes
		mu.Lock()
		streams[ch] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		for {
			select {
			case f := <-ch:
				_, _ = w.Write([]byte(f))
				_ = http.NewResponseController(w).Flush()
			case <-r.Context().Done():
				return
			case <-done:
				return
			}
		}
	})
	n := 0
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Topic string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		n++
		id := fmt.Sprintf("1-%d", n)
		for ch := range streams {
			ch <- fmt.Sprintf("id: %s\nevent: resync\ndata: {\"topics\":[%q],\"topic\":%[2]q,\"reason\":\"history_exceeded\"}\n\n", id, req.Topic)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return srv.URL
}

func TestBenchCheck(t *testing.T) {
	t.Parallel()
	m := startHub(t)
	small := []string{"--conns", "4", "--topics", "2", "--rate", "50", "--duration", "1s"}
	tests := []struct {
		name      string
		urls      []string
		json      bool
		wantErr   string // "": success
		wantLines []string
	}{
		{"text, two URLs", []string{m.URL(), m.URL()}, false, "",
			[]string{"lost        0", "phantom     0", "duplicate   0", "reordered   0", "resyncs     0 (justified 0)", "published   50 acked 50 failed 0 retries 0 resolved 0"}},
		{"json", []string{m.URL()}, true, "", nil},
		// Each of the 4 streams follows both topics: 4 x 50 events lost.
		{"events lost", []string{silentHub(t)}, false, "lost 200",
			[]string{"lost        200", "deliveries  0 of 200 expected  reconnects 0  streams 4 (opened 4)"}},
		// A resync instead of every event: none lost, none of the resyncs
		// justified, even by a history age of 1ms. (Not their count: a
		// loaded machine may publish fewer than 50.)
		{"unjustified resyncs", []string{resyncHub(t)}, false, "unjustified resync ",
			[]string{"lost        0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A healthy hub ends the drain as soon as all has arrived;
			// the silent one holds it for the whole --drain.
			drain := "5s"
			if tt.wantErr != "" {
				drain = "1s"
			}
			args := []string{"bench", "--check", "--drain", drain, "--history-age", "1ms"}
			for _, u := range tt.urls {
				args = append(args, "--url", u)
			}
			args = append(args, small...)
			if tt.json {
				args = append(args, "--json")
			}
			var stdout, stderr bytes.Buffer
			err := main.RunCommand(t.Context(), args, &stdout, &stderr)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("bench --check = %v, want error %q\nstdout:\n%s\nstderr:\n%s", err, tt.wantErr, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			for _, w := range tt.wantLines {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("no line %q in\n%s", w, stdout.String())
				}
			}
			if !tt.json {
				return
			}
			var rep map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
				t.Fatalf("last line is not JSON: %v\n%s", err, stdout.String())
			}
			for k, want := range map[string]float64{"lost": 0, "phantom": 0, "duplicate": 0, "reordered": 0, "resyncs": 0,
				"resyncs_justified": 0, "published": 50, "acked": 50, "failed": 0, "deliveries": 200, "reconnects": 0} {
				if got, ok := rep[k].(float64); !ok || got != want {
					t.Errorf("%s = %v, want %v", k, rep[k], want)
				}
			}
			if p99, ok := rep["publish_p99_ms"].(float64); !ok || p99 <= 0 {
				t.Errorf("publish_p99_ms = %v, want a positive latency", rep["publish_p99_ms"])
			}
		})
	}
}

func TestBenchRepeatedURLMustAllBeLoopback(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := main.RunCommand(t.Context(), []string{"bench", "--url", "http://127.0.0.1:1", "--url", "http://10.1.2.3:2", "--conns", "1"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "10.1.2.3") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("bench with a second --url off this machine = %v, want a refusal naming it and loopback", err)
	}
}
