package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/internal/wire"
)

func TestAppendEventTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id, ev, topic, data string
		want                      string
	}{
		{name: "all fields", id: "17-0", ev: "update", topic: "comments", data: `{"a":1}`,
			want: "id: 17-0\nevent: update\ntopic: comments\ndata: {\"a\":1}\n\n"},
		{name: "no id", ev: "join", topic: "room:1", data: `{}`,
			want: "event: join\ntopic: room:1\ndata: {}\n\n"},
		{name: "no name", id: "1-0", topic: "t", data: "a\nb",
			want: "id: 1-0\ntopic: t\ndata: a\ndata: b\n\n"},
		{name: "data only", topic: "t", data: "",
			want: "topic: t\ndata: \n\n"},
		{name: "no topic is AppendEvent", id: "1-0", ev: "e", data: "x",
			want: "id: 1-0\nevent: e\ndata: x\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := wire.AppendEventTopic([]byte("prefix"), tt.id, tt.ev, tt.topic, []byte(tt.data))
			if string(got) != "prefix"+tt.want {
				t.Fatalf("AppendEventTopic = %q, want %q", got, "prefix"+tt.want)
			}
			// The splice of a shared encoding gives the same bytes.
			enc, _ := wire.EncodeEvent(tt.id, tt.ev, []byte(tt.data))
			if spliced := wire.AppendWithTopic(nil, enc, tt.topic); string(spliced) != tt.want {
				t.Fatalf("AppendWithTopic = %q, want %q", spliced, tt.want)
			}
			off := wire.TopicOffset(enc)
			if of := wire.TopicOffsetOf(enc, tt.id, tt.ev); of != off {
				t.Fatalf("TopicOffsetOf = %d, TopicOffset = %d", of, off)
			}
			if of := wire.TopicOffsetOf(enc, tt.id+"x", tt.ev); of != off {
				t.Fatalf("TopicOffsetOf with the wrong id = %d, TopicOffset = %d", of, off)
			}
			three := append(append(append([]byte(nil), enc[:off]...), wire.AppendTopic(nil, tt.topic)...), enc[off:]...)
			if tt.topic != "" && string(three) != tt.want {
				t.Fatalf("enc[:TopicOffset] + topic line + enc[TopicOffset:] = %q, want %q", three, tt.want)
			}
			// A parser reads the topic back, and the rest as without it.
			p := wire.NewParser(strings.NewReader(tt.want))
			ev, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			wantName := tt.ev
			if wantName == "" {
				wantName = "message"
			}
			if ev != (wire.Event{ID: tt.id, Name: wantName, Data: tt.data, Topic: tt.topic}) {
				t.Fatalf("parsed %+v", ev)
			}
		})
	}
}

func TestParserTopic(t *testing.T) {
	t.Parallel()
	// The topic belongs to one event: the next has none unless it says so;
	// a block without data dispatches nothing and forgets its topic; the
	// field may stand anywhere in the event, the last one wins.
	stream := "topic: a\ndata: 1\n\n" +
		"data: 2\n\n" +
		"topic: lost\n\n" +
		"data: 3\n\n" +
		"data: 4\ntopic: x\ntopic: b\n\n" +
		"topic:c\r\ndata: 5\r\n\r\n"
	want := []wire.Event{
		{Name: "message", Data: "1", Topic: "a"},
		{Name: "message", Data: "2"},
		{Name: "message", Data: "3"},
		{Name: "message", Data: "4", Topic: "b"},
		{Name: "message", Data: "5", Topic: "c"},
	}
	p := wire.NewParser(strings.NewReader(stream))
	for i, w := range want {
		ev, err := p.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev != w {
			t.Fatalf("event %d = %+v, want %+v", i, ev, w)
		}
	}
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the events: %v, want EOF", err)
	}
}

func TestTopicOffset(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		enc  string
		want int
	}{
		{"id: 1\nevent: e\ndata: x\n\n", len("id: 1\nevent: e\n")},
		{"event: e\ndata: x\n\n", len("event: e\n")},
		{"id: 1\ndata: x\n\n", len("id: 1\n")},
		{"data: id: 1\n\n", 0},
		{"data: \n\n", 0},
	} {
		if got := wire.TopicOffset([]byte(tt.enc)); got != tt.want {
			t.Errorf("TopicOffset(%q) = %d, want %d", tt.enc, got, tt.want)
		}
	}
}

// BenchmarkEventWithTopic is what a stream of several topics pays per
// event over one of a single topic: splicing its topic line into the
// shared encoding as it copies it into its buffer (the goroutine path),
// against copying the encoding alone; the poller path copies nothing and
// only finds the offset (offset-of, as streams do it) to write the three
// pieces with one writev.
func BenchmarkEventWithTopic(b *testing.B) {
	enc, _ := wire.EncodeEvent("1764247860000-12", "order.updated", benchPayload)
	dst := make([]byte, 0, 512)
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = append(dst[:0], enc...)
		}
	})
	b.Run("copy-with-topic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = wire.AppendWithTopic(dst[:0], enc, "workspace:acme:orders")
		}
	})
	b.Run("offset", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += wire.TopicOffset(enc)
		}
		if n == 0 {
			b.Fatal("no offset")
		}
	})
	b.Run("offset-of", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += wire.TopicOffsetOf(enc, "1764247860000-12", "order.updated")
		}
		if n == 0 {
			b.Fatal("no offset")
		}
	})
}

// FuzzTopicRoundTrip checks that a topic spliced into any shared encoding
// gives AppendEventTopic's bytes, and that they parse back as the event
// with its topic.
func FuzzTopicRoundTrip(f *testing.F) {
	f.Add("1-0", "update", "comments", []byte(`{"a":1}`))
	f.Add("", "", "t", []byte("a\r\nid: 3\ntopic: x"))
	f.Add("", "event: x", "id: 1", []byte(""))
	f.Fuzz(func(t *testing.T, id, name, topic string, data []byte) {
		if !wire.ValidField(id) || !wire.ValidField(name) || !wire.ValidField(topic) {
			return // the encoder's callers never pass such fields
		}
		enc, _ := wire.EncodeEvent(id, name, data)
		want := wire.AppendEventTopic(nil, id, name, topic, data)
		if off, of := wire.TopicOffset(enc), wire.TopicOffsetOf(enc, id, name); off != of {
			t.Fatalf("TopicOffsetOf = %d, TopicOffset = %d", of, off)
		}
		if got := wire.AppendWithTopic(nil, enc, topic); !bytes.Equal(got, want) {
			t.Fatalf("AppendWithTopic = %q, want %q", got, want)
		}
		ev, err := wire.NewParser(bytes.NewReader(want)).Next()
		if err != nil {
			t.Fatal(err)
		}
		wantData := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
		if ev.ID != id || ev.Topic != topic || ev.Data != wantData {
			t.Fatalf("%q parsed to %+v", want, ev)
		}
	})
}
