package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/ssevents/ssevents/internal/wire"
)

// benchPayload is a JSON document of about 200 bytes, the size of a typical
// notification.
var benchPayload = []byte(`{"type":"order.updated","order":{"id":"ord_8f14e45fceea167a","status":"shipped",` +
	`"items":3,"total":{"amount":12999,"currency":"EUR"},"carrier":"DHL",` +
	`"tracking":"JD014600003828573371"},"at":"2025-11-27T12:51:00Z"}`)

func BenchmarkAppendEvent(b *testing.B) {
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		dst = wire.AppendEvent(dst[:0], "1764247860000-12", "order.updated", benchPayload)
	}
}

func BenchmarkParser(b *testing.B) {
	const events = 1000
	var stream []byte
	for i := range events {
		stream = wire.AppendEvent(stream, "1764247860000-"+strconv.Itoa(i), "order.updated", benchPayload)
		if i%10 == 0 {
			stream = wire.AppendComment(stream, "heartbeat")
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	r := bytes.NewReader(stream)
	for b.Loop() {
		r.Reset(stream)
		p := wire.NewParser(r)
		n := 0
		for {
			_, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != events {
			b.Fatalf("parsed %d events, want %d", n, events)
		}
	}
}
