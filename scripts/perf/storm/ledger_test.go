package main

import (
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	p := func(seq uint64, o outcome) *pub {
		return &pub{data: `"t0:` + string(rune('0'+seq)) + `"`, outcome: o, id: streamid.ID{Ms: 10, Seq: seq},
			ackedAt: t0.Add(time.Duration(seq) * time.Second)}
	}
	d := func(seq uint64) delivery {
		return delivery{id: streamid.ID{Ms: 10, Seq: seq}.String(), data: `"t0:` + string(rune('0'+seq)) + `"`}
	}
	three := []*pub{p(1, acked), p(2, acked), p(3, acked)}
	for _, tc := range []struct {
		name    string
		pubs    []*pub
		got     []delivery
		resyncs []resyncMark
		want    verdict
	}{
		{"all in order", three, []delivery{d(1), d(2), d(3)}, nil,
			verdict{received: 3, expected: 3}},
		{"one lost", three, []delivery{d(1), d(3)}, nil,
			verdict{received: 2, expected: 3, lost: 1}},
		{"duplicate", three, []delivery{d(1), d(2), d(2), d(3)}, nil,
			verdict{received: 4, expected: 3, duplicates: 1}},
		{"out of order", three, []delivery{d(2), d(1), d(3)}, nil,
			verdict{received: 3, expected: 3, outOfOrder: 1}},
		{"phantom: never published", three, []delivery{d(1), d(2), d(3), {id: "10-9", data: `"t0:9"`}}, nil,
			verdict{received: 4, expected: 3, phantom: 1}},
		{"phantom: another id than acknowledged", three, []delivery{d(1), d(2), {id: "11-0", data: d(3).data}}, nil,
			verdict{received: 3, expected: 3, phantom: 1, lost: 1}},
		{"phantom: refused", []*pub{p(1, acked), p(2, refused)}, []delivery{d(1), d(2)}, nil,
			verdict{received: 2, expected: 1, phantom: 1}},
		{"unknown outcome delivered or not", []*pub{p(1, unknown), p(2, acked), p(3, unknown)}, []delivery{d(1), d(2)}, nil,
			verdict{received: 2, expected: 1}},
		{"resync cursor covers up to it", three, []delivery{d(3)}, []resyncMark{{cursor: "10-2"}},
			verdict{received: 1, expected: 3, covered: 2}},
		{"resync cursor before a missing event", three, []delivery{d(1)}, []resyncMark{{cursor: "10-2"}},
			verdict{received: 1, expected: 3, covered: 1, lost: 1}},
		{"resync without cursor covers what was acknowledged before its connection", three, []delivery{d(1)},
			[]resyncMark{{connStart: t0.Add(2500 * time.Millisecond)}},
			verdict{received: 1, expected: 3, covered: 1, lost: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := judge(tc.pubs, tc.got, tc.resyncs)
			if got != tc.want {
				t.Errorf("judge = %+v, want %+v", got, tc.want)
			}
			if ok := got.violations() == 0; ok != (tc.want.lost+tc.want.duplicates+tc.want.outOfOrder+tc.want.phantom == 0) {
				t.Errorf("violations() = %d for %+v", got.violations(), got)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 1, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	} {
		if got := quantile(tc.ds, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.ds, tc.q, got, tc.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-addr", "127.0.0.1:1"}, true},
		{[]string{"-addr", "127.0.0.1:1", "SSE_RETRY_MS=1000"}, true},
		{[]string{"-addr", "127.0.0.1:1", "RETRY=1"}, false},
		{[]string{"-addr", "127.0.0.1:1,127.0.0.1:2"}, false},
		{[]string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-redis", "redis://x"}, true},
		{[]string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-redis", "redis://x", "-data-dir", "d"}, false},
		{[]string{"-addr", "127.0.0.1:1", "-restart", "hup"}, false},
		{[]string{"-addr", "127.0.0.1:1", "-streams", "10", "-topics", "100"}, false},
	} {
		if _, err := parseArgs(tc.args); (err == nil) != tc.ok {
			t.Errorf("parseArgs(%q) = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
