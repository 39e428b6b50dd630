package hub

import (
	"context"
	"net/http"

	"github.com/ssevents/ssevents"
)

// keysRetryAfter is the Retry-After of a 503 for a token whose JWKS is
// not fetched yet, in seconds: the first fetch is retried within seconds,
// and the core answers its own 503s with 5 too.
const keysRetryAfter = "5"

// readyPath is the app's readiness endpoint, which the hub answers itself
// while it cannot verify tokens yet.
const readyPath = "/health/ready"

// WaitKeys waits until the hub holds every key it is configured with: at
// once, unless Config.JWTJWKSURL is set; then until the first successful
// fetch of that key set. New does not wait for that fetch, so that a slow
// or hanging JWKS server does not delay the listener; until it succeeds,
// /health/ready answers 503 and a token that only those keys could verify
// is refused with 503. WaitKeys returns ctx's error if ctx ends first.
func (h *Hub) WaitKeys(ctx context.Context) error {
	if h.auth == nil || h.auth.remote == nil {
		return nil
	}
	return h.auth.remote.wait(ctx)
}

// keysPending reports whether the keys of Config.JWTJWKSURL are still
// being fetched for the first time.
func (h *Hub) keysPending() bool {
	return h.auth != nil && h.auth.remote != nil && !h.auth.remote.isLoaded()
}

// holdReady answers GET /health/ready with 503 while the keys of a JWKS
// URL have not been fetched yet (a load balancer then sends the hub no
// subscriber it would refuse), and passes every other request, and that
// one afterwards, to next.
func (h *Hub) holdReady(next http.Handler) http.Handler {
	if h.auth == nil || h.auth.remote == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == readyPath && h.keysPending() {
			ssevents.WriteJSON(w, http.StatusServiceUnavailable, ssevents.Health{
				Status: "unavailable", Connections: h.app.Events().Connections(),
				Error: "ssevents: the JWKS of SSE_JWT_JWKS_URL has not been fetched yet: tokens its keys sign cannot be verified",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
