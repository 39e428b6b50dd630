package pace_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents/internal/pace"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		n       int
		stopAt  time.Duration // the context ends then; 0: never
		want    []int
		wantAts []time.Duration
	}{
		{"all jobs, each at its time", 4, 0, []int{0, 1, 2, 3}, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}},
		{"none", 0, 0, nil, nil},
		{"stopped early", 10, 250 * time.Millisecond, []int{0, 1, 2}, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tc.stopAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.stopAt)
					defer cancel()
				}
				start := time.Now()
				jobs := make(chan int)
				go pace.Schedule(ctx, start, 100*time.Millisecond, tc.n, jobs)
				var got []int
				var ats []time.Duration
				for i := range jobs { // ends when Schedule closes jobs
					got = append(got, i)
					ats = append(ats, time.Since(start))
				}
				if !slices.Equal(got, tc.want) || !slices.Equal(ats, tc.wantAts) {
					t.Errorf("jobs %v at %v, want %v at %v", got, ats, tc.want, tc.wantAts)
				}
			})
		})
	}
}
