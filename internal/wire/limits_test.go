package wire_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/internal/wire"
)

func TestParserLineLimit(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return "data:" + strings.Repeat("x", n-len("data:")) }
	tests := []struct {
		name    string
		max     int
		in      string
		want    []wire.Event
		wantErr error
	}{
		{name: "at limit", max: 16, in: long(16) + "\n\n",
			want: []wire.Event{ev("", "message", strings.Repeat("x", 11))}, wantErr: io.EOF},
		{name: "at limit CRLF", max: 16, in: long(16) + "\r\n\r\n",
			want: []wire.Event{ev("", "message", strings.Repeat("x", 11))}, wantErr: io.EOF},
		{name: "over limit", max: 16, in: long(17) + "\n\n", wantErr: wire.ErrLineTooLong},
		{name: "over limit without line end", max: 16, in: long(17), wantErr: wire.ErrLineTooLong},
		{name: "comment over limit", max: 16, in: ":" + strings.Repeat("x", 16) + "\n", wantErr: wire.ErrLineTooLong},
		{name: "event before long line", max: 16, in: "data: a\n\n" + long(100) + "\n\n",
			want: []wire.Event{ev("", "message", "a")}, wantErr: wire.ErrLineTooLong},
		{name: "default limit holds 1 MiB", in: long(wire.DefaultMaxLineBytes) + "\n\n",
			want: []wire.Event{ev("", "message", strings.Repeat("x", wire.DefaultMaxLineBytes-5))}, wantErr: io.EOF},
		{name: "default limit", in: long(wire.DefaultMaxLineBytes+1) + "\n\n", wantErr: wire.ErrLineTooLong},
		{name: "huge limit", max: math.MaxInt, in: long(10000) + "\n\n",
			want: []wire.Event{ev("", "message", strings.Repeat("x", 10000-5))}, wantErr: io.EOF},
		{name: "negative means default", max: -1, in: long(wire.DefaultMaxLineBytes + 1), wantErr: wire.ErrLineTooLong},
	}
	for _, tc := range tests {
		for _, kind := range []readerKind{readerKinds[0], readerKinds[2]} {
			t.Run(tc.name+"/"+kind.name, func(t *testing.T) {
				t.Parallel()
				got := parseAll(t, kind.new([]byte(tc.in)), func(p *wire.Parser) { p.MaxLineBytes = tc.max })
				if !errors.Is(got.Err, tc.wantErr) {
					t.Errorf("error = %v, want %v", got.Err, tc.wantErr)
				}
				if !reflect.DeepEqual(got.Events, tc.want) {
					t.Errorf("events = %.80v, want %.80v", got.Events, tc.want)
				}
			})
		}
	}
}

// TestParserLineLimitStopsReading checks that a line over the limit is
// rejected once the limit is passed, not after reading the whole line.
func TestParserLineLimitStopsReading(t *testing.T) {
	t.Parallel()
	r := &countingReader{r: bytes.NewReader([]byte("data: " + strings.Repeat("x", 1<<20)))}
	p := wire.NewParser(r)
	p.MaxLineBytes = 100
	if _, err := p.Next(); !errors.Is(err, wire.ErrLineTooLong) {
		t.Fatalf("Next() error = %v, want ErrLineTooLong", err)
	}
	if r.n > 64<<10 {
		t.Errorf("parser read %d bytes before rejecting a line over 100 bytes", r.n)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

// Read reads from the underlying reader and counts.
func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

func TestParserEventLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		max     int
		in      string
		want    []wire.Event
		wantErr error
	}{
		// Data "aaaa\nbbb" plus its final LF is 9 bytes.
		{name: "at limit", max: 9, in: "data: aaaa\ndata: bbb\n\ndata: c\n\n",
			want: []wire.Event{ev("", "message", "aaaa\nbbb"), ev("", "message", "c")}, wantErr: io.EOF},
		{name: "over limit", max: 8, in: "data: aaaa\ndata: bbb\n\n", wantErr: wire.ErrEventTooLarge},
		{name: "limit is per event", max: 4, in: "data: abc\n\ndata: def\n\n",
			want: []wire.Event{ev("", "message", "abc"), ev("", "message", "def")}, wantErr: io.EOF},
		{name: "many empty data lines", max: 1000, in: strings.Repeat("data\n", 1001), wantErr: wire.ErrEventTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseAll(t, strings.NewReader(tc.in), func(p *wire.Parser) { p.MaxEventBytes = tc.max })
			if !errors.Is(got.Err, tc.wantErr) {
				t.Errorf("error = %v, want %v", got.Err, tc.wantErr)
			}
			if !reflect.DeepEqual(got.Events, tc.want) {
				t.Errorf("events = %v, want %v", got.Events, tc.want)
			}
		})
	}
}

// TestParserLongCRRun checks that a long run of CR-terminated lines after a
// large line is parsed line by line: every CR ends one line, and the event
// survives. (A quadratic search for an LF over the whole buffer at each CR
// would show as a slow test; BenchmarkParser tracks speed, not this test.)
func TestParserLongCRRun(t *testing.T) {
	t.Parallel()
	const crs = 1 << 18
	stream := "data: " + strings.Repeat("x", 1<<20) + "\r" + strings.Repeat("\r", crs) + "x\n"
	got := parseAll(t, strings.NewReader(stream), func(p *wire.Parser) { p.MaxLineBytes = 2 << 20 })
	if got.Lines != crs+2 || len(got.Events) != 1 || !errors.Is(got.Err, io.EOF) {
		t.Errorf("got %d lines, %d events, error %v; want %d lines, 1 event, EOF", got.Lines, len(got.Events), got.Err, crs+2)
	}
}
