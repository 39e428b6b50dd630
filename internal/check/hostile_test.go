package check_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/check"
	"github.com/ssevents/ssevents/sse"
)

// Misbehaviours of hostileHub, each applied to the second publish.
const (
	honest    = ""
	duplicate = "duplicate" // delivered twice
	drop      = "drop"      // acknowledged, never delivered
	dropSync  = "resync"    // acknowledged, not delivered, then a resync of its topic
	gapSync   = "gap"       // acknowledged, not delivered, the next delivered, then a resync: too late to excuse it
	phantom   = "phantom"   // delivered, but every attempt answered 503
	reorder   = "reorder"   // delivered after the third
	// unknown: delivered, but every attempt, the retry after the run
	// included, answered 504 (outcome unknown): it may be delivered once.
	unknown = "unknown"
	// unanswered: published and delivered at once, but no attempt during
	// the run gets an answer (the connection is cut); the retry after the
	// run answers its id.
	unanswered = "unanswered"
)

// hostileHub speaks SSE and POST /publish by hand, like a hub, and breaks
// the promise in one way, on the second publish (by idempotency key).
type hostileHub struct {
	mode string

	mu    sync.Mutex
	subs  map[chan string]bool
	ids   map[string]string // idempotency key -> id answered
	n     int
	held  string
	cuts  int // attempts cut without an answer (mode unanswered)
	done  chan struct{}
	close sync.Once
}

// newHostileHub serves a hostileHub on a loopback test server, closed
// when the test ends.
func newHostileHub(t *testing.T, mode string) string {
	t.Helper()
	h := &hostileHub{mode: mode, subs: map[chan string]bool{}, ids: map[string]string{}, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", h.events)
	mux.HandleFunc("POST /publish", h.publish)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { h.close.Do(func() { close(h.done) }) })
	return srv.URL
}

func (h *hostileHub) events(w http.ResponseWriter, r *http.Request) {
	ch := make(chan string, 1000) // more than a test publishes
	h.mu.Lock()
	h.subs[ch] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for {
		select {
		case frame := <-ch:
			if _, err := w.Write([]byte(frame)); err != nil {
				return
			}
			_ = rc.Flush()
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
	}
}

// broadcastLocked sends frames to every stream; h.mu is held.
func (h *hostileHub) broadcastLocked(frames ...string) {
	for ch := range h.subs {
		for _, f := range frames {
			ch <- f
		}
	}
}

func (h *hostileHub) publish(w http.ResponseWriter, r *http.Request) {
	var req sse.PublishRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		ssevents.WriteError(w, r, nil, sse.ErrInvalidRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	h.mu.Lock()
	defer h.mu.Unlock()
	id, seen := h.ids[key]
	if !seen {
		h.n++
		id = fmt.Sprintf("1000-%d", h.n)
		h.ids[key] = id
		frame := fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", id, req.Event, req.Data)
		h.misbehave(frame, req.Topic)
	}
	if h.mode == unanswered && id == "1000-2" && h.cuts < 1+check.PublishRetries {
		// The answer is cut off after its first bytes: no complete
		// answer, and (unlike a connection closed before any answer)
		// not one the HTTP transport would resend by itself.
		h.cuts++
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"1000-`))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	if h.mode == phantom && id == "1000-2" {
		ssevents.WriteError(w, r, nil, sse.ErrUnavailable)
		return
	}
	if h.mode == unknown && id == "1000-2" {
		ssevents.WriteError(w, r, nil, sse.ErrOutcomeUnknown)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sse.PublishResponse{ID: id})
}

// misbehave delivers the frame of publish h.n as h.mode says; h.mu
// is held.
func (h *hostileHub) misbehave(frame, topic string) {
	if h.n == 3 && h.held != "" {
		h.broadcastLocked(frame, h.held)
		return
	}
	if h.mode == gapSync && h.n == 4 {
		h.broadcastLocked(fmt.Sprintf("event: resync\ndata: {\"topics\":[%q]}\n\n", topic), frame)
		return
	}
	if h.n != 2 {
		h.broadcastLocked(frame)
		return
	}
	switch h.mode {
	case duplicate:
		h.broadcastLocked(frame, frame)
	case drop, gapSync:
	case dropSync:
		h.broadcastLocked(fmt.Sprintf("event: resync\ndata: {\"topics\":[%q]}\n\n", topic))
	case reorder:
		h.held = frame
	default:
		h.broadcastLocked(frame)
	}
}
