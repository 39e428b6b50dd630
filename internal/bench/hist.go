package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets: values below linearMax microseconds have a bucket each;
// above, every power of two is split into subBuckets buckets, so a bucket
// spans under 1/64 of its values (about 1.6 %, 0.8 % error at its middle).
const (
	subBits    = 6
	subBuckets = 1 << subBits // 64
	linearMax  = 2 * subBuckets
	maxValueUs = 1 << 40 // about 12 days; longer latencies are clamped
	numBuckets = linearMax + (40-subBits)*subBuckets
)

// Histogram counts durations in log-linear buckets of microseconds. Record
// is safe for concurrent use and lock-free; histograms of several workers
// merge by adding counts.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
}

func bucketOf(us uint64) int {
	if us < linearMax {
		return int(us)
	}
	us = min(us, maxValueUs-1)
	shift := bits.Len64(us) - subBits - 1 // us>>shift is in [subBuckets, 2*subBuckets)
	return linearMax + (shift-1)*subBuckets + int(us>>shift) - subBuckets
}

// bucketMid returns the middle of bucket i, in microseconds.
func bucketMid(i int) uint64 {
	if i < linearMax {
		return uint64(i)
	}
	shift := (i-linearMax)/subBuckets + 1
	low := uint64((i-linearMax)%subBuckets+subBuckets) << shift
	return low + (uint64(1)<<shift)/2
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d.Microseconds(), 0)))].Add(1)
}

// Count returns the number of durations recorded.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile returns the duration below which a fraction q of the recorded
// ones lie (q in [0, 1]), or 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return time.Duration(bucketMid(i)) * time.Microsecond
		}
	}
	return time.Duration(bucketMid(numBuckets-1)) * time.Microsecond
}

// Max returns the middle of the highest non-empty bucket.
func (h *Histogram) Max() time.Duration {
	for i := numBuckets - 1; i >= 0; i-- {
		if h.counts[i].Load() > 0 {
			return time.Duration(bucketMid(i)) * time.Microsecond
		}
	}
	return 0
}

// Sparse returns the non-empty buckets as [index, count] pairs, the form
// workers send their histograms in.
func (h *Histogram) Sparse() [][2]uint64 {
	var out [][2]uint64
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			out = append(out, [2]uint64{uint64(i), n})
		}
	}
	return out
}

// AddSparse adds the counts of a Sparse result to h, ignoring indexes out of
// range.
func (h *Histogram) AddSparse(s [][2]uint64) {
	for _, p := range s {
		if p[0] < numBuckets {
			h.counts[p[0]].Add(p[1])
		}
	}
}
