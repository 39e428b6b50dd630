package ssevents

import (
	"math/rand/v2"
	"time"
)

// retryJitterDivisor sets how far a stream's retry: may be from
// Config.Retry: up to 1/5 (20%) either way.
const retryJitterDivisor = 5

// jitteredRetry returns the reconnection delay one stream tells its client:
// d moved uniformly at random within ±20%, in whole milliseconds (so 3 s
// gives 2400 to 3600 ms). Streams that end together (a restart, a dataset
// change) then come back spread over 40% of d instead of in one wave. Safe
// for concurrent use.
func jitteredRetry(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	half := ms / retryJitterDivisor
	if half <= 0 {
		return d
	}
	return time.Duration(ms-half+rand.Int64N(2*half+1)) * time.Millisecond
}
