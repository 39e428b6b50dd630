// Command quickstart is the program of the README's "In your Go API, in a
// few lines", with a page: ticket 42's status, refetched through REST
// whenever the server says it changed (notify-then-fetch), kept live by
// the browser client the app serves at /ssevents.js.
//
//	cd examples && go run ./quickstart
//
// then open http://localhost:8080 in two windows and close or reopen the
// ticket in one: the other follows. Port 8080, as in the README: the
// quick-start hub may hold 8000 (--addr picks another).
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/ssevents/ssevents"
)

// page is the quick-start page: it subscribes with the browser client and
// refetches the ticket on each event.
//
//go:embed index.html
var page []byte

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()

	app, err := ssevents.New(ssevents.Config{}) // embedded broker; SSE_* env: ssevents.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = app.Close() }()

	var tickets statuses
	// fastapi-sse-events' @publish_event: a 2xx JSON answer is published as the event.
	app.Handle("POST /tickets/{id}/status", app.PublishEvent("ticket:{id}", "ticket_status_changed",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			status := tickets.set(r.PathValue("id"), r) // ... save to the database ...
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "status": status})
		})))
	// What the page refetches when notified.
	app.HandleFunc("GET /tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "status": tickets.get(r.PathValue("id"))})
	})
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})

	// GET /events?topic=..., /health, /health/live, /health/ready, /metrics,
	// /metrics/prometheus (and the browser client, /ssevents.js) are
	// mounted; everything else is yours.
	// The README's http.ListenAndServe, with a bound on reading headers
	// (slowloris) and no WriteTimeout, which would cut the streams.
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("quickstart: http://localhost%s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// statuses is the example's database: each ticket's status, "open" until
// set. Safe for concurrent use.
type statuses struct {
	mu sync.Mutex
	m  map[string]string
}

// set saves the status the request's JSON body names ({"status":
// "open"}), "closed" when it names none (the README's handler closes the
// ticket), and returns it.
func (s *statuses) set(id string, r *http.Request) string {
	var body struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<10)).Decode(&body) // no body: closed
	if body.Status != "open" {
		body.Status = "closed"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[id] = body.Status
	return body.Status
}

// get returns the ticket's status.
func (s *statuses) get(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[id]; ok {
		return st
	}
	return "open"
}
