package wire_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/wire"
)

// ev builds an expected event.
func ev(id, name, data string) wire.Event {
	return wire.Event{ID: id, Name: name, Data: data}
}

var parserCases = []struct {
	name   string
	in     string
	events []wire.Event
	lastID string
	retry  time.Duration
	lines  int
}{
	{name: "empty stream", in: ""},
	{name: "LF", in: "data: a\n\n", events: []wire.Event{ev("", "message", "a")}, lines: 2},
	{name: "CR", in: "data: a\r\r", events: []wire.Event{ev("", "message", "a")}, lines: 2},
	{name: "CRLF", in: "data: a\r\n\r\n", events: []wire.Event{ev("", "message", "a")}, lines: 2},
	{name: "mixed endings", in: "data: a\rdata: b\ndata: c\r\n\n",
		events: []wire.Event{ev("", "message", "a\nb\nc")}, lines: 4},
	{name: "LF CR is two line ends", in: "data: a\n\rdata: b\n\n",
		events: []wire.Event{ev("", "message", "a"), ev("", "message", "b")}, lines: 4},
	{name: "CR CR LF is two line ends", in: "data: a\r\r\ndata: b\n\n",
		events: []wire.Event{ev("", "message", "a"), ev("", "message", "b")}, lines: 4},
	{name: "multi-line data", in: "data: a\ndata:\ndata: b\n\n",
		events: []wire.Event{ev("", "message", "a\n\nb")}, lines: 4},
	{name: "no space after colon", in: "data:a\n\n", events: []wire.Event{ev("", "message", "a")}, lines: 2},
	{name: "only one space removed", in: "data:  a \n\n", events: []wire.Event{ev("", "message", " a ")}, lines: 2},
	{name: "colon in value", in: "data: a: b\n\n", events: []wire.Event{ev("", "message", "a: b")}, lines: 2},
	{name: "field without colon", in: "data\n\n", events: []wire.Event{ev("", "message", "")}, lines: 2},
	{name: "empty data value dispatches", in: "data:\n\n", events: []wire.Event{ev("", "message", "")}, lines: 2},
	{name: "trailing empty data line", in: "data: a\ndata:\n\n",
		events: []wire.Event{ev("", "message", "a\n")}, lines: 3},
	{name: "fields are case-sensitive", in: "DATA: a\nData: b\n\n", lines: 3},
	{name: "leading space makes another field", in: " data: a\n\n", lines: 2},
	{name: "unknown fields ignored", in: "foo: bar\ndata: a\nbaz\n\n",
		events: []wire.Event{ev("", "message", "a")}, lines: 4},
	{name: "comments", in: ": hello\n:\n:data: x\ndata: a\n: between\n\n",
		events: []wire.Event{ev("", "message", "a")}, lines: 6},
	{name: "comment only stream", in: ": ping\n\n: ping\n\n", lines: 4},
	{name: "event name", in: "event: add\ndata: 1\n\ndata: 2\n\n",
		events: []wire.Event{ev("", "add", "1"), ev("", "message", "2")}, lines: 5},
	{name: "last event name wins", in: "event: a\nevent: b\ndata: 1\n\n",
		events: []wire.Event{ev("", "b", "1")}, lines: 4},
	{name: "empty event name is message", in: "event:\ndata: 1\n\n",
		events: []wire.Event{ev("", "message", "1")}, lines: 3},
	{name: "name without data is reset", in: "event: add\n\ndata: 1\n\n",
		events: []wire.Event{ev("", "message", "1")}, lines: 4},
	{name: "id persists", in: "id: 1\ndata: a\n\ndata: b\n\n",
		events: []wire.Event{ev("1", "message", "a"), ev("1", "message", "b")}, lastID: "1", lines: 5},
	{name: "id without data still sets last id", in: "id: 7\n\n", lastID: "7", lines: 2},
	{name: "empty id resets", in: "id: 1\ndata: a\n\nid\ndata: b\n\n",
		events: []wire.Event{ev("1", "message", "a"), ev("", "message", "b")}, lines: 6},
	{name: "id with NUL ignored", in: "id: 1\n\nid: 2\x003\ndata: a\n\n",
		events: []wire.Event{ev("1", "message", "a")}, lastID: "1", lines: 5},
	{name: "id after data in same event", in: "data: a\nid: 9\n\n",
		events: []wire.Event{ev("9", "message", "a")}, lastID: "9", lines: 3},
	{name: "id of incomplete event not applied", in: "id: 1\n\nid: 2\ndata: a\n",
		lastID: "1", lines: 4},
	{name: "incomplete final event discarded", in: "data: a\n\ndata: b\n",
		events: []wire.Event{ev("", "message", "a")}, lines: 3},
	{name: "final line without ending discarded", in: "data: a\n\ndata: b\n\n\ndata: c",
		events: []wire.Event{ev("", "message", "a"), ev("", "message", "b")}, lines: 5},
	{name: "unterminated blank line", in: "data: a\n", lines: 1},
	{name: "retry", in: "retry: 1500\n\n", retry: 1500 * time.Millisecond, lines: 2},
	{name: "retry last valid wins", in: "retry: 10\nretry: 20\nretry: x\n", retry: 20 * time.Millisecond, lines: 3},
	{name: "retry zero", in: "retry: 0\n", lines: 1},
	{name: "retry rejects non-digits", in: "retry: 1\nretry: 15a\nretry: -1\nretry: 1.5\nretry: +2\nretry:  3\nretry:\nretry\n",
		retry: time.Millisecond, lines: 8},
	{name: "retry overflow ignored", in: "retry: 5\nretry: 9223372036855\nretry: 99999999999999999999999\n",
		retry: 5 * time.Millisecond, lines: 3},
	{name: "retry largest", in: "retry: 9223372036854\n", retry: 9223372036854 * time.Millisecond, lines: 1},
	{name: "retry inside an event", in: "data: a\nretry: 5\n\n",
		events: []wire.Event{ev("", "message", "a")}, retry: 5 * time.Millisecond, lines: 3},
	{name: "BOM stripped", in: "\xEF\xBB\xBFdata: a\n\n", events: []wire.Event{ev("", "message", "a")}, lines: 2},
	{name: "BOM then comment", in: "\xEF\xBB\xBF: hi\ndata: a\n\n", events: []wire.Event{ev("", "message", "a")}, lines: 3},
	{name: "only one BOM stripped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", lines: 2},
	{name: "BOM later is data", in: "data: \xEF\xBB\xBFa\n\n", events: []wire.Event{ev("", "message", "\xEF\xBB\xBFa")}, lines: 2},
	{name: "partial BOM is data", in: "\xEF\xBBdata: a\n\ndata: b\n\n", events: []wire.Event{ev("", "message", "b")}, lines: 4},
	{name: "lone BOM", in: "\xEF\xBB\xBF"},
	{name: "invalid UTF-8 passed through", in: "data: \xff\xfe\n\n", events: []wire.Event{ev("", "message", "\xff\xfe")}, lines: 2},
	{name: "NUL in data kept", in: "data: a\x00b\n\n", events: []wire.Event{ev("", "message", "a\x00b")}, lines: 2},
	{name: "blank lines only", in: "\n\r\n\r\n\n", lines: 4},
}

func TestParser(t *testing.T) {
	t.Parallel()
	for _, tc := range parserCases {
		for _, kind := range readerKinds {
			t.Run(tc.name+"/"+kind.name, func(t *testing.T) {
				t.Parallel()
				got := parseAll(t, kind.new([]byte(tc.in)), nil)
				want := parseResult{Events: tc.events, LastID: tc.lastID, Retry: tc.retry, Lines: tc.lines, Err: io.EOF}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("parse %q:\n got %+v\nwant %+v", tc.in, got, want)
				}
			})
		}
	}
}

// TestReferenceParser checks the test oracle against the same table, so a
// fuzzing comparison with it means something.
func TestReferenceParser(t *testing.T) {
	t.Parallel()
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := referenceParse([]byte(tc.in))
			want := parseResult{Events: tc.events, LastID: tc.lastID, Retry: tc.retry, Lines: tc.lines, Err: io.EOF}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("reference parse %q:\n got %+v\nwant %+v", tc.in, got, want)
			}
		})
	}
}

// TestParserSplitReads feeds each stream in two reads, cut at every
// position, so every CR, LF, CRLF and BOM straddles a read boundary once.
func TestParserSplitReads(t *testing.T) {
	t.Parallel()
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := parseResult{Events: tc.events, LastID: tc.lastID, Retry: tc.retry, Lines: tc.lines, Err: io.EOF}
			for cut := range len(tc.in) + 1 {
				got := parseAll(t, chunks(io.EOF, tc.in[:cut], tc.in[cut:]), nil)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("parse %q cut at %d:\n got %+v\nwant %+v", tc.in, cut, got, want)
				}
			}
		})
	}
}

// TestParserDoesNotReadAhead checks that Next returns an event as soon as
// its blank line has arrived, without waiting for the byte after a CR: the
// reader fails the test's way if it is read once more.
func TestParserDoesNotReadAhead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
		want   []wire.Event
		lines  int
	}{
		{"LF", []string{"data: a\n", "\n"}, []wire.Event{ev("", "message", "a")}, 2},
		{"CR at end of read", []string{"data: a\r", "\r"}, []wire.Event{ev("", "message", "a")}, 2},
		{"CRLF then CR", []string{"data: a\r\n\r"}, []wire.Event{ev("", "message", "a")}, 2},
		{"two events", []string{"data: a\n\ndata: b\r\r"}, []wire.Event{ev("", "message", "a"), ev("", "message", "b")}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseAll(t, chunks(errReadTooFar, tc.chunks...), nil)
			want := parseResult{Events: tc.want, Lines: tc.lines, Err: errReadTooFar}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestParserCRLFAcrossReads checks that a CR ending one read and an LF
// starting the next are one line end: were the LF a blank line of its own,
// "a" would be dispatched alone and OnLine called once more.
func TestParserCRLFAcrossReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
	}{
		{"split CRLF", []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"}},
		{"one byte at a time", strings.Split("data: a\r\ndata: b\r\n\r\n", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseAll(t, chunks(io.EOF, tc.chunks...), nil)
			want := parseResult{Events: []wire.Event{ev("", "message", "a\nb")}, Lines: 3, Err: io.EOF}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestParserReadError checks that events read before a failing read are
// returned, then the reader's own error.
func TestParserReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	got := parseAll(t, chunks(boom, "id: 1\ndata: a\n\ndata: b\n"), nil)
	want := parseResult{Events: []wire.Event{ev("1", "message", "a")}, LastID: "1", Lines: 4, Err: boom}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestParserEmptyReads checks that a reader that keeps returning nothing
// ends the stream with io.ErrNoProgress instead of a busy loop.
func TestParserEmptyReads(t *testing.T) {
	t.Parallel()
	p := wire.NewParser(emptyReader{})
	if _, err := p.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("Next() error = %v, want io.ErrNoProgress", err)
	}
}

// emptyReader returns no bytes and no error.
type emptyReader struct{}

// Read returns 0, nil.
func (emptyReader) Read([]byte) (int, error) { return 0, nil }
