package bench

import "testing"

func TestSeenWindow(t *testing.T) {
	t.Parallel()
	seq := func(from, to uint64) []uint64 {
		var s []uint64
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		before []uint64 // recorded first
		seq    uint64
		dup    bool
	}{
		{"first", nil, 1, false},
		{"again", []uint64{1}, 1, true},
		{"late, within the window", []uint64{1, 500}, 2, false},
		{"late, seen", []uint64{1, 2, 500}, 2, true},
		{"late by 1023", append(seq(1, 5), 1028), 5, true},
		{"late by 1023, unseen", []uint64{1, 1028}, 5, false},
		{"too far below", []uint64{1, 1025}, 1, true},
		{"after a jump past the window", []uint64{3, 5000}, 4000, false},
		{"ring slot reused", append(seq(1, 2000), 1500), 1500, true},
		{"ring slot cleared", []uint64{1, 2, 3, 1025, 1500}, 1027, false},
		{"ring slot of a seen seq", []uint64{1, 2, 3, 1025, 1026}, 3, true},
	} {
		var w seenWindow
		for _, s := range tc.before {
			w.add(s)
		}
		if got := w.add(tc.seq); got != tc.dup {
			t.Errorf("%s: add(%d) after %d seqs = %v, want %v", tc.name, tc.seq, len(tc.before), got, tc.dup)
		}
	}
}
