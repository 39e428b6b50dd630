package sse_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/sse"
)

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	ok := sse.Message{Topics: []string{"ticket:42", "workspace:acme:comments"}, Event: "ticket.closed", Data: json.RawMessage(`{"id":42}`)}
	with := func(f func(*sse.Message)) sse.Message { m := ok; m.Topics = slices.Clone(ok.Topics); f(&m); return m }
	tests := []struct {
		name string
		msg  sse.Message
		max  int
		want error // nil: valid
		text string
	}{
		{"valid", ok, 0, nil, ""},
		{"valid with a key", with(func(m *sse.Message) { m.IdempotencyKey = "order-42/paid:1" }), 0, nil, ""},
		{"no topic", with(func(m *sse.Message) { m.Topics = nil }), 0, sse.ErrNoTopic, ""},
		{"empty topic", with(func(m *sse.Message) { m.Topics = []string{""} }), 0, sse.ErrInvalidTopic, "empty topic"},
		{"topic with a space", with(func(m *sse.Message) { m.Topics = []string{"a b"} }), 0, sse.ErrInvalidTopic, `"a b" has the character ' '`},
		{"topic too long", with(func(m *sse.Message) { m.Topics = []string{strings.Repeat("t", sse.MaxTopicLength+1)} }), 0, sse.ErrInvalidTopic, "201 bytes long"},
		{"event with a newline", with(func(m *sse.Message) { m.Event = "a\nb" }), 0, sse.ErrInvalidEvent, `'\n'`},
		{"reserved resync", with(func(m *sse.Message) { m.Event = sse.EventResync }), 0, sse.ErrInvalidEvent, "reserved"},
		{"reserved heartbeat", with(func(m *sse.Message) { m.Event = sse.EventHeartbeat }), 0, sse.ErrInvalidEvent, "reserved"},
		{"reserved token_expired", with(func(m *sse.Message) { m.Event = sse.EventTokenExpired }), 0, sse.ErrInvalidEvent, "reserved"},
		{"data not JSON", with(func(m *sse.Message) { m.Data = json.RawMessage(`{`) }), 0, sse.ErrInvalidData, ""},
		{"no data", with(func(m *sse.Message) { m.Data = nil }), 0, sse.ErrInvalidData, ""},
		{"data too large", with(func(m *sse.Message) { m.Data = json.RawMessage(`"` + strings.Repeat("x", 20) + `"`) }), 10, sse.ErrMessageTooLarge, "22 bytes of data, the limit is 10"},
		{"key with a space", with(func(m *sse.Message) { m.IdempotencyKey = "a b" }), 0, sse.ErrInvalidIdempotencyKey, "0x20"},
		{"key too long", with(func(m *sse.Message) { m.IdempotencyKey = strings.Repeat("k", 201) }), 0, sse.ErrInvalidIdempotencyKey, "the limit is 200"},
		{"key not ASCII", with(func(m *sse.Message) { m.IdempotencyKey = "clé" }), 0, sse.ErrInvalidIdempotencyKey, "0xc3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate(tt.max)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.text) {
				t.Fatalf("Validate: %v, want %v containing %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestValidateIdempotencyKeyBounds(t *testing.T) {
	t.Parallel()
	for key, valid := range map[string]bool{
		"":                        false,
		"k":                       true,
		strings.Repeat("k", 200):  true,
		strings.Repeat("k", 201):  false,
		"!~":                      true, // 0x21 and 0x7E, the ends of the range
		"tab\there":               false,
		"del\x7f":                 false,
		"550e8400-e29b-41d4-a716": true,
	} {
		if err := sse.ValidateIdempotencyKey(key); (err == nil) != valid {
			t.Errorf("ValidateIdempotencyKey(%q) = %v, want valid %v", key, err, valid)
		}
	}
}

func TestUniqueTopics(t *testing.T) {
	t.Parallel()
	many := make([]string, 0, 20_000)
	for i := range 10_000 {
		many = append(many, fmt.Sprint("t", i), fmt.Sprint("t", i/2))
	}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, []string{}},
		{"no repeats", []string{"a", "b"}, []string{"a", "b"}},
		{"repeats keep first-seen order", []string{"b", "a", "b", "c", "a"}, []string{"b", "a", "c"}},
	}
	for _, tt := range tests {
		if got := sse.UniqueTopics(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("%s: UniqueTopics(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
	got := sse.UniqueTopics(many)
	if len(got) != 10_000 || got[0] != "t0" || got[1] != "t1" || got[9_999] != "t9999" {
		t.Fatalf("UniqueTopics of 20,000 with repeats: %d topics, first %v, want t0..t9999 in first-seen order", len(got), got[:3])
	}
}
