package sse_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/sse"
)

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := sse.Message{Topics: []string{"a", "b"}, Event: "e", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "k"}
	with := func(f func(*sse.Message)) sse.Message {
		m := base
		m.Topics = append([]string(nil), base.Topics...)
		f(&m)
		return m
	}
	tests := []struct {
		name string
		msg  sse.Message
		same bool
	}{
		{"Identical", with(func(*sse.Message) {}), true},
		{"TopicsReordered", with(func(m *sse.Message) { m.Topics = []string{"b", "a"} }), true},
		{"TopicRepeated", with(func(m *sse.Message) { m.Topics = []string{"a", "b", "a"} }), true},
		{"OtherKey", with(func(m *sse.Message) { m.IdempotencyKey = "other" }), true},
		{"OtherTopic", with(func(m *sse.Message) { m.Topics = []string{"a", "c"} }), false},
		{"FewerTopics", with(func(m *sse.Message) { m.Topics = []string{"a"} }), false},
		{"OtherEvent", with(func(m *sse.Message) { m.Event = "f" }), false},
		{"OtherData", with(func(m *sse.Message) { m.Data = json.RawMessage(`{"n":2}`) }), false},
		// Length prefixes: no shift of bytes between fields collides.
		{"BytesShifted", sse.Message{Topics: []string{"a", "be"}, Event: "", Data: base.Data}, false},
	}
	want := base.Fingerprint()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.msg.Fingerprint(); (got == want) != tt.same {
				t.Errorf("Fingerprint(%+v) == Fingerprint(%+v) is %v, want %v", tt.msg, base, got == want, tt.same)
			}
		})
	}
}

func TestIdempotencyKeyError(t *testing.T) {
	t.Parallel()
	for _, sentinel := range []error{sse.ErrIdempotencyKeyReused, sse.ErrIdempotencyKeyInFlight} {
		err := error(sse.NewIdempotencyKeyError("order-42", sentinel))
		var ke *sse.IdempotencyKeyError
		if !errors.Is(err, sentinel) || !errors.As(err, &ke) || ke.Key != "order-42" {
			t.Errorf("%v: errors.Is(%v) or errors.As with the key failed", err, sentinel)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, sentinel.Error()+":") || !strings.Contains(msg, `"order-42"`) {
			t.Errorf("Error() = %q, want it to start with %q and name the key", msg, sentinel.Error()+":")
		}
	}
}
