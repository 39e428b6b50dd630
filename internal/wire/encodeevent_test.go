package wire_test

import (
	"bytes"
	"testing"

	"github.com/ssevents/ssevents/internal/wire"
)

func TestEncodeEventMatchesAppendEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id, ev, data string
		wantShared         bool // data is a slice of the encoding
	}{
		{name: "all fields", id: "17-0", ev: "update", data: `{"a":1}`, wantShared: true},
		{name: "data only", data: `{"a":1}`, wantShared: true},
		{name: "empty data", ev: "e", data: "", wantShared: true},
		{name: "LF", id: "1-0", data: "a\nb"},
		{name: "CR", data: "a\rb"},
		{name: "trailing CRLF", ev: "e", data: "a\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			enc, data := wire.EncodeEvent(tt.id, tt.ev, []byte(tt.data))
			want := wire.AppendEvent(nil, tt.id, tt.ev, []byte(tt.data))
			if !bytes.Equal(enc, want) {
				t.Fatalf("encoding %q, want %q", enc, want)
			}
			if string(data) != tt.data {
				t.Fatalf("data %q, want %q", data, tt.data)
			}
			if tt.wantShared {
				if cap(enc) != len(enc) {
					t.Errorf("encoding has %d bytes of slack", cap(enc)-len(enc))
				}
				if len(data) > 0 && &data[0] != &enc[len(enc)-2-len(data)] {
					t.Error("one-line data is not a slice of the encoding")
				}
				// Appending to the data must not overwrite the encoding.
				_ = append(data, 'X')
				if !bytes.Equal(enc, want) {
					t.Fatalf("appending to data changed the encoding to %q", enc)
				}
			}
		})
	}
}
