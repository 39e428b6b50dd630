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

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		id, ev   string
		data     string
		want     string
		wantData string // what a client receives
	}{
		{name: "data only", data: `{"a":1}`, want: "data: {\"a\":1}\n\n", wantData: `{"a":1}`},
		{name: "all fields", id: "17-0", ev: "update", data: "x",
			want: "id: 17-0\nevent: update\ndata: x\n\n", wantData: "x"},
		{name: "empty data", want: "data: \n\n", wantData: ""},
		{name: "LF", data: "a\nb", want: "data: a\ndata: b\n\n", wantData: "a\nb"},
		{name: "CR", data: "a\rb", want: "data: a\ndata: b\n\n", wantData: "a\nb"},
		{name: "CRLF", data: "a\r\nb", want: "data: a\ndata: b\n\n", wantData: "a\nb"},
		{name: "LF CR", data: "a\n\rb", want: "data: a\ndata: \ndata: b\n\n", wantData: "a\n\nb"},
		{name: "trailing LF", data: "a\n", want: "data: a\ndata: \n\n", wantData: "a\n"},
		{name: "lone CR", data: "\r", want: "data: \ndata: \n\n", wantData: "\n"},
		{name: "lone CRLF", data: "\r\n", want: "data: \ndata: \n\n", wantData: "\n"},
		{name: "leading space kept", data: " a", want: "data:  a\n\n", wantData: " a"},
		{name: "colon in data", data: "a: b", want: "data: a: b\n\n", wantData: "a: b"},
		{name: "inject event", data: "a\n\nevent: x\ndata: y",
			want: "data: a\ndata: \ndata: event: x\ndata: data: y\n\n", wantData: "a\n\nevent: x\ndata: y"},
		{name: "inject id", data: "a\r\nid: 3", want: "data: a\ndata: id: 3\n\n", wantData: "a\nid: 3"},
		{name: "inject with CR", data: "a\r\rretry: 1\r", want: "data: a\ndata: \ndata: retry: 1\ndata: \n\n",
			wantData: "a\n\nretry: 1\n"},
		{name: "comment-looking data", data: ": x", want: "data: : x\n\n", wantData: ": x"},
		{name: "BOM in data", data: "\xEF\xBB\xBF", want: "data: \xEF\xBB\xBF\n\n", wantData: "\xEF\xBB\xBF"},
		{name: "NUL in data", data: "a\x00b", want: "data: a\x00b\n\n", wantData: "a\x00b"},
		{name: "id with leading space", id: " 1", data: "a", want: "id:  1\ndata: a\n\n", wantData: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("prefix")
			got := wire.AppendEvent(prefix, tc.id, tc.ev, []byte(tc.data))
			if string(got) != "prefix"+tc.want {
				t.Fatalf("AppendEvent(%q, %q, %q) = %q, want %q", tc.id, tc.ev, tc.data, got[len(prefix):], tc.want)
			}
			name := tc.ev
			if name == "" {
				name = "message"
			}
			res := parseAll(t, strings.NewReader(tc.want), nil)
			want := []wire.Event{{ID: tc.id, Name: name, Data: tc.wantData}}
			if !reflect.DeepEqual(res.Events, want) || !errors.Is(res.Err, io.EOF) {
				t.Errorf("parsing %q gave %+v, %v; want %+v, EOF", tc.want, res.Events, res.Err, want)
			}
		})
	}
}

// TestAppendEventAllocations is not parallel: testing.AllocsPerRun counts
// the allocations of the whole process.
func TestAppendEventAllocations(t *testing.T) {
	data := []byte("line one\r\nline two\rline three\n")
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst = wire.AppendEvent(dst[:0], "1-0", "update", data)
	})
	if allocs != 0 {
		t.Errorf("AppendEvent with room in dst made %v allocations, want 0", allocs)
	}
}

func TestAppendComment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want string
	}{
		{name: "empty", text: "", want: ": \n"},
		{name: "text", text: "ping", want: ": ping\n"},
		{name: "LF", text: "a\nb", want: ": a\n: b\n"},
		{name: "CR", text: "a\rb", want: ": a\n: b\n"},
		{name: "CRLF", text: "a\r\nb", want: ": a\n: b\n"},
		{name: "inject field", text: "x\ndata: y", want: ": x\n: data: y\n"},
		{name: "inject event", text: "x\r\n\r\ndata: y\r\n\r\n", want: ": x\n: \n: data: y\n: \n: \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(wire.AppendComment([]byte("p"), tc.text))
			if got != "p"+tc.want {
				t.Fatalf("AppendComment(%q) = %q, want %q", tc.text, got[1:], tc.want)
			}
			// Between two halves of an event, the comment must change nothing.
			stream := "id: 1\ndata: a\n" + tc.want + "data: b\n\n"
			res := parseAll(t, strings.NewReader(stream), nil)
			want := []wire.Event{ev("1", "message", "a\nb")}
			if !reflect.DeepEqual(res.Events, want) || res.Retry != 0 {
				t.Errorf("parsing %q gave %+v, retry %v; want %+v", stream, res.Events, res.Retry, want)
			}
		})
	}
}

func TestAppendRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{3 * time.Second, "retry: 3000\n\n"},
		{1500 * time.Microsecond, "retry: 1\n\n"},
		{999 * time.Microsecond, "retry: 0\n\n"},
		{0, "retry: 0\n\n"},
		{-time.Second, "retry: 0\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.d.String(), func(t *testing.T) {
			t.Parallel()
			got := string(wire.AppendRetry([]byte("p"), tc.d))
			if got != "p"+tc.want {
				t.Fatalf("AppendRetry(%v) = %q, want %q", tc.d, got[1:], tc.want)
			}
			res := parseAll(t, strings.NewReader(tc.want), nil)
			if want := max(tc.d.Truncate(time.Millisecond), 0); res.Retry != want || len(res.Events) != 0 {
				t.Errorf("parsing %q gave retry %v and %d events, want %v and none", tc.want, res.Retry, len(res.Events), want)
			}
		})
	}
}

func TestValidField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"update", true},
		{"1700000000000-3", true},
		{" spaced: colon ", true},
		{"ünïcode", true},
		{"a\nb", false},
		{"a\rb", false},
		{"\r\n", false},
		{"a\x00", false},
		{"\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			t.Parallel()
			if got := wire.ValidField(tc.s); got != tc.want {
				t.Errorf("ValidField(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}
