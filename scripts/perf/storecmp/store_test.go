package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// TestDurableDesigns checks that every durable design keeps what the
// comparison assumes it keeps: HistorySize per topic, resume after an id,
// a resync for an id older than the history, and the same after a
// recovery, with ids that keep growing.
func TestDurableDesigns(t *testing.T) {
	t.Parallel()
	for _, d := range designs {
		if !d.durable {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			opts := sse.BrokerOptions{HistorySize: 5}
			open := func() store {
				t.Helper()
				s, err := d.open(dir, opts, fsyncAlways)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			var ids []string
			for i := range 12 {
				id, err := s.Publish(ctx, sse.Message{Topics: []string{"a"}, Event: "e", Data: []byte(fmt.Sprintf("%d", i))})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if _, err := s.Publish(ctx, sse.Message{Topics: []string{"b"}, Data: []byte(`"b"`)}); err != nil {
				t.Fatal(err)
			}
			check := func(s store) {
				t.Helper()
				if n, err := s.Resume(ctx, "a", ids[8]); err != nil || n != 3 {
					t.Errorf("resume after the 9th of 12 with 5 kept: %d events, %v; want 3", n, err)
				}
				if n, err := s.Resume(ctx, "a", ids[6]); err != nil || n != 5 {
					t.Errorf("resume after the 7th: %d events, %v; want 5", n, err)
				}
				if _, err := s.Resume(ctx, "a", ids[2]); !errors.Is(err, errStale) {
					t.Errorf("resume after the 3rd, trimmed: %v; want a resync", err)
				}
			}
			check(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			t.Cleanup(func() { s.Close() })
			check(s)
			id, err := s.Publish(ctx, sse.Message{Topics: []string{"a"}, Data: []byte(`"after"`)})
			if err != nil {
				t.Fatal(err)
			}
			last, _ := streamid.Parse(ids[len(ids)-1])
			if got, _ := streamid.Parse(id); !last.Less(got) {
				t.Errorf("id after recovery %s, not after %s", id, ids[len(ids)-1])
			}
			if n, err := s.Resume(ctx, "a", ids[8]); err != nil || n != 4 {
				t.Errorf("resume after the 9th, one more published: %d events, %v; want 4", n, err)
			}
		})
	}
}
