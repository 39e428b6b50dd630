package ssevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	app, _ := newServer(t, ssevents.Config{MaxMessageSize: 100})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		topics []string
		event  string
		data   any
		want   error
	}{
		{"no topic", nil, "e", 1, sse.ErrNoTopic},
		{"empty topic", []string{""}, "e", 1, sse.ErrInvalidTopic},
		{"topic with space", []string{"a b"}, "e", 1, sse.ErrInvalidTopic},
		{"topic with newline", []string{"a\nb"}, "e", 1, sse.ErrInvalidTopic},
		{"one bad topic of two", []string{"ok", "n*o"}, "e", 1, sse.ErrInvalidTopic},
		{"empty event", []string{"a"}, "", 1, sse.ErrInvalidEvent},
		{"event with CR", []string{"a"}, "a\rb", 1, sse.ErrInvalidEvent},
		{"event with LF", []string{"a"}, "a\nevent: x", 1, sse.ErrInvalidEvent},
		{"event with NUL", []string{"a"}, "a\x00", 1, sse.ErrInvalidEvent},
		{"event too long", []string{"a"}, strings.Repeat("e", sse.MaxEventNameLength+1), 1, sse.ErrInvalidEvent},
		{"reserved resync", []string{"a"}, "resync", 1, sse.ErrInvalidEvent},
		{"reserved heartbeat", []string{"a"}, "heartbeat", 1, sse.ErrInvalidEvent},
		{"too large", []string{"a"}, "e", strings.Repeat("x", 101), sse.ErrMessageTooLarge},
		{"raw invalid JSON", []string{"a"}, "e", json.RawMessage(`{"a":`), sse.ErrInvalidData},
		{"unmarshalable", []string{"a"}, "e", func() {}, sse.ErrInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := app.PublishTopics(ctx, tc.topics, tc.event, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if id != "" {
				t.Errorf("id %q returned with an error", id)
			}
			if sse.HTTPStatus(err)/100 != 4 {
				t.Errorf("HTTPStatus(%v) = %d, want a 4xx", err, sse.HTTPStatus(err))
			}
		})
	}
}

func TestPublishAfterCloseAndIDsOrdered(t *testing.T) {
	t.Parallel()
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var prev string
	for i := 0; i < 1000; i++ {
		id, err := app.Publish(ctx, []string{"a", "b"}[i%2], "e", i)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" && !idLess(prev, id) {
			t.Fatalf("id %s after %s is not greater", id, prev)
		}
		prev = id
	}
	app.Close()
	// Close refuses publishes first (503), before it ends the streams.
	if _, err := app.Publish(ctx, "a", "e", 1); !errors.Is(err, ssevents.ErrShuttingDown) || sse.HTTPStatus(err) != 503 {
		t.Fatalf("after Close: %v, want ErrShuttingDown (503)", err)
	}
}

// idLess orders "<ms>-<seq>" ids.
func idLess(a, b string) bool {
	var am, as, bm, bs uint64
	parse := func(s string, m, q *uint64) {
		ms, seq, _ := strings.Cut(s, "-")
		if json.Unmarshal([]byte(ms), m) != nil || json.Unmarshal([]byte(seq), q) != nil {
			panic("idLess: not an <ms>-<seq> id: " + s)
		}
	}
	parse(a, &am, &as)
	parse(b, &bm, &bs)
	return am < bm || am == bm && as < bs
}

func TestTopicHelpers(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		ssevents.UserTopic("42"):                        "user:42",
		ssevents.WorkspaceTopic("acme"):                 "workspace:acme",
		ssevents.CommentTopic("c123"):                   "comment:c123",
		ssevents.TaskTopic("t456"):                      "task:t456",
		ssevents.TicketTopic("9"):                       "ticket:9",
		ssevents.Topic("invoice", "i001"):               "invoice:i001",
		ssevents.Topic("workspace", "acme", "comments"): "workspace:acme:comments",
		ssevents.Topic("broadcast"):                     "broadcast",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if err := sse.ValidateTopic(got); err != nil {
			t.Errorf("%q: %v", got, err)
		}
	}
}
