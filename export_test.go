package ssevents

import "os"

// With SSE_POLLER=false, every test of this package serves its streams
// from a goroutine each, so that scripts/test.sh runs the same behaviour
// tests on both I/O paths.
func init() { goroutinePathOnly = os.Getenv("SSE_POLLER") == "false" }

// PolledStreams returns the number of streams h's poller serves.
func (h *Handler) PolledStreams() int {
	if p := h.poll.Load(); p != nil {
		return p.Len()
	}
	return 0
}

// GoroutinePathOnly reports whether this run keeps every stream off the
// poller (SSE_POLLER=false).
func GoroutinePathOnly() bool { return goroutinePathOnly }
