package hub

import (
	"net/http"
	"time"
)

// ClientAddr returns the client address a hub trusting the proxies trusted
// resolves for a request from remoteAddr with header ("" for none).
func ClientAddr(trusted []string, remoteAddr string, header http.Header) string {
	cl := newClientAddrs(trusted).resolve(&http.Request{RemoteAddr: remoteAddr, Header: header})
	if !cl.addr.IsValid() {
		return ""
	}
	return cl.addr.String()
}

// MaxRateKeys is the most buckets a publish limiter keeps.
const MaxRateKeys = maxRateKeys

// RateLimiter is the publish limiter: one token bucket per key.
type RateLimiter struct{ l *rateLimiter }

// NewRateLimiter returns a limiter of perSecond events per second and key.
func NewRateLimiter(perSecond int) RateLimiter { return RateLimiter{newRateLimiter(perSecond)} }

// Reserve takes one event of key at now: 0 when allowed, else the wait.
func (r RateLimiter) Reserve(key string, now time.Time) time.Duration { return r.l.reserve(key, now) }

// Keys returns how many buckets the limiter holds.
func (r RateLimiter) Keys() int {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	return len(r.l.keys)
}

// SetJWKSIntervals sets how often a JWKS URL is fetched in the background
// and at most on an unknown kid, for hubs made after it, and returns what
// restores them. Tests that call it must not be parallel.
func SetJWKSIntervals(refresh, unknownKID time.Duration) (restore func()) {
	r, u := jwksRefreshInterval, jwksUnknownKIDInterval
	jwksRefreshInterval, jwksUnknownKIDInterval = refresh, unknownKID
	return func() { jwksRefreshInterval, jwksUnknownKIDInterval = r, u }
}
