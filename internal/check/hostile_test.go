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
	// everyFourth: every fourth publish of each topic is acknowledged,
	// not delivered, and a resync of its topic (history_exceeded) is sent
	// in the middle of the stream instead.
	everyFourth = "every-fourth"
	// The modes below end every stream after the second publish; the
	// client resumes from it.
	//
	// replay: the resume replays the second event again.
	replay = "replay"
	// lieHistory, lieEvicted, lieGenesis, lieDataset: the resume starts
	// with a resync whose reason does not hold (history_exceeded with
	// nothing missed; evicted of an event still held; dataset_changed with
	// a genesis before the resume id; dataset_changed that a later resume
	// contradicts: the hub ends that connection once it has sent what it
	// had, and replays honestly to the next resume, from before the
	// claimed genesis), then replays honestly.
	lieHistory = "lie-history"
	lieEvicted = "lie-evicted"
	lieGenesis = "lie-genesis"
	lieDataset = "lie-dataset"
	// justHistory: the hub refuses connections until the fifth publish,
	// then starts the resume with a resync (history_exceeded, oldest the
	// fourth event) and replays the fourth and fifth: justified by a
	// history size of 1 or a history age of 1ms.
	justHistory = "just-history"
)

// resumeModes are the modes that end the streams after the second publish.
var resumeModes = map[string]bool{replay: true, lieHistory: true, lieEvicted: true, lieGenesis: true, lieDataset: true, justHistory: true}

// hostileHub speaks SSE and POST /publish by hand, like a hub, and breaks
// the promise in one way, on the second publish (by idempotency key).
type hostileHub struct {
	mode string

	mu      sync.Mutex
	subs    map[chan string]bool
	ids     map[string]string // idempotency key -> id answered
	n       int
	perT    map[string]int // publishes per topic (mode everyFourth)
	frames  []string       // every event frame, frames[i] of publish i+1
	kick    chan struct{}  // closed to end the open streams
	down    bool           // GET /events answers 503
	resumes int            // connections that resumed from an id
	topic   string         // of the last publish: the resume modes run with one topic
	held    string
	cuts    int // attempts cut without an answer (mode unanswered)
	done    chan struct{}
	close   sync.Once
}

// newHostileHub serves a hostileHub on a loopback test server, closed
// when the test ends.
func newHostileHub(t *testing.T, mode string) string {
	t.Helper()
	h := &hostileHub{mode: mode, subs: map[chan string]bool{}, ids: map[string]string{}, perT: map[string]int{},
		kick: make(chan struct{}), done: make(chan struct{})}
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
	if h.down {
		h.mu.Unlock()
		ssevents.WriteError(w, r, nil, sse.ErrUnavailable)
		return
	}
	h.subs[ch] = true
	kick := h.kick
	endWhenSent := false
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		for _, f := range h.resumeLocked(last) {
			ch <- f
		}
		// In mode lieDataset the connection with the lie ends once it has
		// sent what it has, so that the client resumes once more from
		// before the claimed genesis.
		endWhenSent = h.mode == lieDataset && h.resumes == 1
	}
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
			if endWhenSent && len(ch) == 0 {
				return
			}
		case <-r.Context().Done():
			return
		case <-kick:
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
		_ = http.NewResponseController(w).Flush()
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

// resumeLocked returns what a connection that resumed from last gets
// before live events, as h.mode says; h.mu is held.
func (h *hostileHub) resumeLocked(last string) []string {
	h.resumes++
	var from int
	if _, err := fmt.Sscanf(last, "1000-%d", &from); err != nil {
		return nil
	}
	var out []string
	switch {
	case h.mode == replay:
		from-- // the last event again
	case h.mode == justHistory:
		out = append(out, resyncFrame(h.topic, "history_exceeded", `"oldest":"1000-4"`))
		from = 3
	case h.resumes == 1 && h.mode == lieHistory:
		out = append(out, resyncFrame(h.topic, "history_exceeded", ""))
	case h.resumes == 1 && h.mode == lieEvicted:
		out = append(out, resyncFrame(h.topic, "evicted", fmt.Sprintf(`"oldest":"1000-%d"`, from+1)))
	case h.resumes == 1 && h.mode == lieGenesis:
		out = append(out, resyncFrame(h.topic, "dataset_changed", `"genesis":"1000-1"`))
	case h.resumes == 1 && h.mode == lieDataset:
		out = append(out, resyncFrame(h.topic, "dataset_changed", `"genesis":"1000-99"`))
	}
	return append(out, h.frames[min(from, len(h.frames)):]...)
}

// resyncFrame is a resync event (no id) for topic with reason and the
// JSON fields extra.
func resyncFrame(topic, reason, extra string) string {
	data := fmt.Sprintf(`{"topics":[%q],"topic":%[1]q,"reason":%q`, topic, reason)
	if extra != "" {
		data += "," + extra
	}
	return "event: resync\ndata: " + data + "}\n\n"
}

// misbehave delivers the frame of publish h.n as h.mode says; h.mu
// is held.
func (h *hostileHub) misbehave(frame, topic string) {
	h.frames, h.topic = append(h.frames, frame), topic
	if resumeModes[h.mode] {
		h.resumeMisbehave(frame)
		return
	}
	if h.mode == everyFourth {
		if h.perT[topic]++; h.perT[topic]%4 == 0 {
			frame = resyncFrame(topic, "history_exceeded", "")
		}
		h.broadcastLocked(frame)
		return
	}
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

// resumeMisbehave delivers the frame of publish h.n in the modes that
// end the streams after the second publish; h.mu is held.
func (h *hostileHub) resumeMisbehave(frame string) {
	if !h.down {
		h.broadcastLocked(frame)
	}
	if h.n == 2 {
		close(h.kick)
		h.kick = make(chan struct{})
		h.down = h.mode == justHistory
	}
	if h.n == 5 {
		h.down = false
	}
}
