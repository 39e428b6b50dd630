package bench

import (
	"math"
	"testing"
	"time"
)

func TestBucketsAreContiguousAndTight(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, us := range []uint64{0, 1, 63, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<30 + 7, maxValueUs - 1} {
		i := bucketOf(us)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, after %d (of %d)", us, i, prev, numBuckets)
		}
		prev = i
		if mid := bucketMid(i); math.Abs(float64(mid)-float64(us)) > float64(us)/64+1 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d, off by more than 1/64", us, mid)
		}
	}
	for us := uint64(0); us < 1<<16; us++ {
		if a, b := bucketOf(us), bucketOf(us+1); b != a && b != a+1 {
			t.Fatalf("bucketOf jumps from %d to %d between %d and %d", a, b, us, us+1)
		}
	}
}

func TestHistogramQuantilesAndMerge(t *testing.T) {
	t.Parallel()
	var a, b Histogram
	for i := 1; i <= 1000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.Record(time.Duration(i) * time.Millisecond)
	}
	var m Histogram
	m.AddSparse(a.Sparse())
	m.AddSparse(b.Sparse())
	if m.Count() != 1000 {
		t.Fatalf("merged count %d, want 1000", m.Count())
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		got := m.Quantile(tt.q)
		if d := math.Abs(float64(got - tt.want)); d > float64(tt.want)/50 {
			t.Errorf("Quantile(%v) = %v, want %v within 2%%", tt.q, got, tt.want)
		}
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Max() != 0 {
		t.Error("an empty histogram should report 0")
	}
}
