package main

import (
	"slices"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		streams, users, topics, big int
		want                        []counts
		watchers                    []int
	}{
		{"one user per stream", 12, 12, 3, 8, []counts{{8, 8}, {2, 2}, {2, 2}}, []int{0, 8, 9}},
		{"users with two streams", 12, 4, 3, 8, []counts{{4, 8}, {2, 2}, {2, 2}}, []int{0, 8, 9}},
		{"all on the big topic", 5, 5, 1, 5, []counts{{5, 5}}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ss := plan(tt.streams, tt.users, tt.topics, tt.big)
			got := expected(ss, tt.topics, func(int) bool { return true })
			if !slices.Equal(got, tt.want) {
				t.Errorf("expected counts %v, want %v", got, tt.want)
			}
			var watchers []int
			for _, s := range ss {
				if s.watch {
					watchers = append(watchers, s.idx)
				}
			}
			if !slices.Equal(watchers, tt.watchers) {
				t.Errorf("watchers %v, want %v", watchers, tt.watchers)
			}
			less := expected(ss, tt.topics, func(i int) bool { return i != 0 })
			if less[0].Conns != tt.want[0].Conns-1 {
				t.Errorf("without stream 0: %v", less)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	s := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	ds := make([]time.Duration, len(s))
	for i, v := range s {
		ds[i] = time.Duration(v) * time.Millisecond
	}
	if l := summarize(ds); l.P50 != 5 || l.P99 != 10 || l.Max != 10 || l.Mean != 5.5 {
		t.Errorf("summarize = %+v", l)
	}
}
