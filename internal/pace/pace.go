// Package pace hands out numbered jobs at a fixed rate, for the load
// generators (internal/bench, internal/check).
package pace

import (
	"context"
	"time"
)

// Schedule sends 0, 1, ... n-1 on jobs, job i not before start +
// i*interval, and closes jobs when it has sent them all or ctx ends,
// whichever comes first. A slow receiver delays the jobs behind it; a job
// not sent before ctx ends is not sent.
func Schedule(ctx context.Context, start time.Time, interval time.Duration, n int, jobs chan<- int) {
	defer close(jobs)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			return
		}
	}
}
