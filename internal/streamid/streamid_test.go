package streamid_test

import (
	"errors"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want streamid.ID
		err  bool
	}{
		{"0-0", streamid.ID{}, false},
		{"1795784454285-17", streamid.ID{Ms: 1795784454285, Seq: 17}, false},
		{"18446744073709551615-18446744073709551615", streamid.ID{Ms: 1<<64 - 1, Seq: 1<<64 - 1}, false},
		{"", streamid.ID{}, true},
		{"12", streamid.ID{}, true},
		{"12-", streamid.ID{}, true},
		{"-3", streamid.ID{}, true},
		{"a-1", streamid.ID{}, true},
		{"1-b", streamid.ID{}, true},
		{"-1-1", streamid.ID{}, true},
		{"1-2-3", streamid.ID{}, true},
		{"18446744073709551616-0", streamid.ID{}, true},
	} {
		got, err := streamid.Parse(tc.in)
		if tc.err {
			if !errors.Is(err, streamid.ErrSyntax) {
				t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if s := got.String(); s != tc.in {
			t.Errorf("String() = %q, want %q", s, tc.in)
		}
	}
}

func TestOrderAndNext(t *testing.T) {
	t.Parallel()
	a, b, c := streamid.ID{Ms: 5, Seq: 9}, streamid.ID{Ms: 6}, streamid.ID{Ms: 6, Seq: 1}
	if !a.Less(b) || !b.Less(c) || c.Less(a) || a.Less(a) || streamid.Compare(b, b) != 0 {
		t.Fatalf("ordering is wrong")
	}
	for _, tc := range []struct {
		last streamid.ID
		now  uint64
		want streamid.ID
	}{
		{streamid.ID{}, 100, streamid.ID{Ms: 100}},
		{streamid.ID{Ms: 100}, 100, streamid.ID{Ms: 100, Seq: 1}},
		{streamid.ID{Ms: 100, Seq: 4}, 101, streamid.ID{Ms: 101}},
		{streamid.ID{Ms: 100, Seq: 4}, 90, streamid.ID{Ms: 100, Seq: 5}}, // the clock went back
	} {
		got := streamid.Next(tc.last, tc.now)
		if got != tc.want || !tc.last.Less(got) {
			t.Errorf("Next(%v, %d) = %v, want %v", tc.last, tc.now, got, tc.want)
		}
	}
}
