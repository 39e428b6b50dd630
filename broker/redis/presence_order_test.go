package redis_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/sse"
)

// TestPresenceSequencer: the reader gives each topic's changes in their
// sequence's order, holds an early one for at most the hold, and lets a
// restarted sequence through.
func TestPresenceSequencer(t *testing.T) {
	t.Parallel()
	type step struct {
		topic string
		seq   int64
		at    time.Duration // since the start; the sequencer expires first
	}
	tests := []struct {
		name  string
		steps []step
		want  string // delivered, as topic/seq, in order
	}{
		{"in order", []step{{"a", 5, 0}, {"a", 6, 0}, {"a", 7, 0}}, "a/5 a/6 a/7"},
		{"swapped", []step{{"a", 1, 0}, {"a", 3, 0}, {"a", 2, 10 * time.Millisecond}}, "a/1 a/2 a/3"},
		{"topics apart", []step{{"a", 1, 0}, {"b", 9, 0}, {"a", 3, 0}, {"b", 10, 0}, {"a", 2, 0}}, "a/1 b/9 b/10 a/2 a/3"},
		{"missing one given up", []step{{"a", 1, 0}, {"a", 3, 0}, {"a", 4, 0}, {"a", 6, 0}, {"a", 9, 2 * time.Second}},
			"a/1 a/3 a/4 a/6"},
		{"started over", []step{{"a", 7, 0}, {"a", 1, 0}, {"a", 2, 0}}, "a/7 a/1 a/2"},
		{"unnumbered", []step{{"a", 4, 0}, {"a", 0, 0}, {"a", 6, 0}}, "a/4 a/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := redis.NewSequencer(time.Second)
			start := time.Unix(1000, 0)
			var got []string
			add := func(evs []sse.PresenceEvent) {
				for _, ev := range evs {
					got = append(got, ev.Topic+"/"+ev.User)
				}
			}
			for _, s := range tt.steps {
				now := start.Add(s.at)
				add(q.Expire(now))
				add(q.Push(sse.PresenceEvent{Topic: s.topic, User: strconv.FormatInt(s.seq, 10)}, s.seq, now))
			}
			if w := strings.Fields(tt.want); !slices.Equal(got, w) {
				t.Fatalf("delivered %v, want %v", got, w)
			}
		})
	}
}
