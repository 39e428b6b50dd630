package wire_test

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ssevents/ssevents/internal/wire"
)

// FuzzRoundTrip checks that whatever the payload, an encoded event parses
// back as exactly that one event, with line breaks normalised to LF, and
// that a comment written before it changes nothing.
func FuzzRoundTrip(f *testing.F) {
	seeds := []struct{ id, name, comment, data string }{
		{"", "", "", ""},
		{"1", "update", "ping", `{"a":1}`},
		{"1700000000000-0", "", "", "a\n\nevent: x\ndata: y"},
		{"", "x", "a\r\nid: 3", "a\r\nid: 3"},
		{"", "", "\r", "\r"},
		{"", "", "\n\n", "\r\n"},
		{" 1", " message", " ", " data"},
		{"", "", "", "\xEF\xBB\xBFa"},
		{"", "", "", "a\x00b\xff"},
		{"", "", "\r\r\n\n", "\n\r\r\n"},
	}
	for _, s := range seeds {
		f.Add(s.id, s.name, s.comment, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, id, name, comment string, data []byte) {
		if !wire.ValidField(id) || !wire.ValidField(name) {
			return // the encoder's callers never pass such ids or names
		}
		stream := wire.AppendComment(nil, comment)
		stream = wire.AppendEvent(stream, id, name, data)

		wantName := name
		if wantName == "" {
			wantName = "message"
		}
		wantData := strings.ReplaceAll(string(data), "\r\n", "\n")
		wantData = strings.ReplaceAll(wantData, "\r", "\n")
		want := []wire.Event{{ID: id, Name: wantName, Data: wantData}}

		for _, kind := range readerKinds[:2] {
			res := parseAll(t, kind.new(stream), nil)
			if !reflect.DeepEqual(res.Events, want) || !errors.Is(res.Err, io.EOF) || res.LastID != id || res.Retry != 0 {
				t.Fatalf("%s: stream %q parsed to %+v (last id %q, retry %v, error %v), want %+v",
					kind.name, stream, res.Events, res.LastID, res.Retry, res.Err, want)
			}
		}
	})
}

// FuzzParser feeds arbitrary bytes to the Parser, cut into reads in several
// ways, and checks that it agrees with the reference parser and never
// returns an event whose name or id could break a line.
func FuzzParser(f *testing.F) {
	for _, tc := range parserCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("id: 1\r\nevent: a\r\ndata: x\r\n\r\nid\rdata\r\r"))
	f.Add([]byte("retry: 0010\n:\n\xEF\xBB\xBF\n"))
	f.Add([]byte("topic: a\ndata: x\n\ntopic\ndata\n\ntopic: b\n\ndata: y\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		want := referenceParse(stream)
		// Limits above the stream's length: the reference has none.
		noLimits := func(p *wire.Parser) {
			p.MaxLineBytes = len(stream) + 1
			p.MaxEventBytes = len(stream) + 1
		}
		for _, kind := range readerKinds {
			got := parseAll(t, kind.new(stream), noLimits)
			for _, e := range got.Events {
				if strings.ContainsAny(e.Name, "\r\n") || strings.ContainsAny(e.ID, "\r\n\x00") {
					t.Fatalf("%s: event %+v has a CR, LF or NUL in its name or id", kind.name, e)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: parse %q:\n got %+v\nwant %+v", kind.name, stream, got, want)
			}
		}
		// With small limits the parser may stop early, but must not panic
		// and must agree with the reference on what it returned so far.
		got := parseAll(t, iotest.HalfReader(strings.NewReader(string(stream))), func(p *wire.Parser) {
			p.MaxLineBytes = 8
			p.MaxEventBytes = 8
		})
		if len(got.Events) > len(want.Events) || !slices.Equal(got.Events, want.Events[:len(got.Events)]) {
			t.Fatalf("small limits: parse %q gave %+v, not a prefix of %+v", stream, got.Events, want.Events)
		}
	})
}
