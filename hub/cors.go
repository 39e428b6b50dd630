package hub

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// corsMaxAge is how long a browser may reuse a preflight answer, in
// seconds: 10 minutes, the most Chromium honours.
const corsMaxAge = "600"

// cors answers preflights and adds CORS headers for the allowed origins.
type cors struct {
	any     bool            // "*": any origin, without credentials
	origins map[string]bool // exact origins, with credentials
}

func newCORS(origins []string) *cors {
	c := &cors{origins: make(map[string]bool)}
	for _, o := range origins {
		if o == "*" {
			c.any = true
		} else {
			c.origins[strings.TrimSuffix(o, "/")] = true
		}
	}
	return c
}

// validateOrigin checks an allowed origin: "*" or scheme://host[:port].
func validateOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("origin %q: want * or scheme://host[:port], e.g. https://app.example.com", o)
	}
	return nil
}

// wrap answers CORS preflights (OPTIONS with Origin and
// Access-Control-Request-Method): 204 for an allowed origin, 403 with a
// JSON error otherwise. Other requests from an allowed origin get the
// Access-Control-Allow-* headers and Access-Control-Expose-Headers:
// SSE-Position; from another origin, none (the browser then hides the
// answer from the page).
func (c *cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := c.setOrigin(w.Header(), origin)
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
			if allowed {
				// A page may read the stream position of an answer
				// (ssevents.WithPosition) to subscribe from it.
				w.Header().Set("Access-Control-Expose-Headers", ssevents.PositionHeader)
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Access-Control-Request-Method")
		w.Header().Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			ssevents.WriteError(w, r, nil, fmt.Errorf("%w: origin %q is not allowed (SSE_CORS_ORIGINS)", sse.ErrForbidden, origin))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, Cache-Control, Idempotency-Key")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// setOrigin sets Access-Control-Allow-Origin (and -Credentials) when
// origin is allowed, and reports whether it is.
func (c *cors) setOrigin(h http.Header, origin string) bool {
	switch {
	case c.origins[origin]:
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	case c.any:
		h.Set("Access-Control-Allow-Origin", "*")
	default:
		return false
	}
	return true
}
