package hub

import "time"

// SetJWKSIntervals sets how often a JWKS URL is fetched in the background
// and at most on an unknown kid, for hubs made after it, and returns what
// restores them. Tests that call it must not be parallel.
func SetJWKSIntervals(refresh, unknownKID time.Duration) (restore func()) {
	r, u := jwksRefreshInterval, jwksUnknownKIDInterval
	jwksRefreshInterval, jwksUnknownKIDInterval = refresh, unknownKID
	return func() { jwksRefreshInterval, jwksUnknownKIDInterval = r, u }
}
