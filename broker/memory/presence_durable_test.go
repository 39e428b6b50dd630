package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// openPresence opens b's presence store with opts, closed with b.
func openPresence(t *testing.T, b *memory.Broker, opts sse.PresenceOptions) sse.PresenceStore {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := b.Presence(opts)
	if err != nil {
		t.Fatalf("Presence: %v", err)
	}
	return s
}

// snapshot returns topic's snapshot on s, listing up to 10 members.
func snapshot(t *testing.T, s sse.PresenceStore, topic string) sse.PresenceSnapshot {
	t.Helper()
	snap, err := s.Snapshot(context.Background(), topic, 10)
	if err != nil {
		t.Fatalf("Snapshot(%s): %v", topic, err)
	}
	return snap
}

// A restart of a broker with a data directory is no storm: the members
// of the closed store are back, in their grace period; those who come
// back within it neither leave nor join, the others leave at its end.
func TestPresenceDurableRestart(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	dir := t.TempDir()
	b1 := openDurable(t, dir, sse.BrokerOptions{})
	s1 := openPresence(t, b1, sse.PresenceOptions{Grace: grace})
	s1.Add("room", "stay", json.RawMessage(`{"n":1}`))
	s1.Add("room", "stay", nil)
	s1.Add("room", "gone", nil)
	s1.Add("room", "", nil)
	s1.Add("other", "leaving", nil)
	start := time.Now()
	s1.Remove("other", "leaving")      // in its grace period at the restart
	if err := b1.Close(); err != nil { // closes s1
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, memory.PresenceFile)); err != nil {
		t.Fatalf("no presence file after Close: %v", err)
	}

	b2 := openDurable(t, dir, sse.BrokerOptions{})
	defer b2.Close()
	s2 := openPresence(t, b2, sse.PresenceOptions{Grace: grace, Outbox: true})
	e := watchEvents(s2)
	if _, err := os.Stat(filepath.Join(dir, memory.PresenceFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the presence file is still there once read (a crash would bring its members back): %v", err)
	}
	if snap := snapshot(t, s2, "room"); snap.Users != 2 || snap.Connections != 0 {
		t.Fatalf("after the restart: %+v, want stay and gone in their grace period", snap)
	}
	s2.Add("room", "stay", nil) // reconnects within the grace
	evs := waitEvents(t, e, 2)
	left := map[string]bool{}
	for _, ev := range evs {
		left[ev.User] = ev.Type == sse.EventLeave && ev.Connections == 0 && !ev.Time.Before(start.Add(grace))
	}
	if !left["gone"] || !left["leaving"] {
		t.Fatalf("events %+v, want gone and leaving to leave at the end of their grace (%v after %v)", evs, grace, start)
	}
	snap := snapshot(t, s2, "room")
	if len(snap.Members) != 1 || snap.Members[0].User != "stay" || snap.Connections != 1 || string(snap.Members[0].Info) != `{"n":1}` {
		t.Fatalf("room after the restart: %+v, want stay with 1 stream and her info", snap)
	}
	if got := e.get(); len(got) != 2 { // stay's deadline was gone's: her leave would be here
		t.Fatalf("events %+v, want the leaves of gone and leaving alone", got)
	}
	out, err := s2.Next(context.Background(), 10)
	if err != nil || len(out) != 2 || out[0].ID != evs[0].ID || out[1].ID != evs[1].ID {
		t.Fatalf("outbox: %+v, %v; want the two leaves", out, err)
	}
}

// writePresence writes content as the presence file of dir.
func writePresence(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, memory.PresenceFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A member whose grace ended while the broker was down leaves when the
// store opens (for the outbox: no Watch function is registered yet); one
// whose grace goes on stays until its end, cut to this store's grace.
func TestPresenceDurableOverdue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openDurable(t, dir, sse.BrokerOptions{}).Close()
	now := time.Now()
	writePresence(t, dir, `{"version":1,"members":[`+
		`{"topic":"t","user":"late","info":{"a":1},"leave_at":"`+now.Add(-time.Minute).Format(time.RFC3339Nano)+`"},`+
		`{"topic":"t","user":"early","leave_at":"`+now.Add(time.Hour).Format(time.RFC3339Nano)+`"}]}`)
	b := openDurable(t, dir, sse.BrokerOptions{})
	defer b.Close()
	s := openPresence(t, b, sse.PresenceOptions{Grace: 300 * time.Millisecond, Outbox: true})
	e := watchEvents(s)
	if snap := snapshot(t, s, "t"); snap.Users != 1 || snap.Members[0].User != "early" {
		t.Fatalf("snapshot %+v, want early alone, in its grace period", snap)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := s.Next(ctx, 10)
	if err != nil || len(evs) != 1 || evs[0].User != "late" || evs[0].Type != sse.EventLeave || string(evs[0].Info) != `{"a":1}` {
		t.Fatalf("Next: %+v, %v; want late's leave, with its info", evs, err)
	}
	got := waitEvents(t, e, 1) // early's leave, within this store's grace, not in an hour
	if got[0].User != "early" || got[0].Type != sse.EventLeave {
		t.Fatalf("events %+v, want early's leave", got)
	}
}

// logBuffer is a log destination safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A damaged presence file is logged and ignored: presence starts empty
// and works; the broker opens.
func TestPresenceDamagedFile(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, content string }{
		{"Empty", ""},
		{"Torn", `{"version":1,"members":[{"topic":"t","us`},
		{"Garbage", "\x00\x01\x02not json"},
		{"Version", `{"version":2,"members":[]}`},
		{"NoUser", `{"version":1,"members":[{"topic":"t","user":"","leave_at":"2026-12-07T10:00:00Z"}]}`},
		{"NoDeadline", `{"version":1,"members":[{"topic":"t","user":"u"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			openDurable(t, dir, sse.BrokerOptions{}).Close()
			writePresence(t, dir, tt.content)
			b := openDurable(t, dir, sse.BrokerOptions{})
			defer b.Close()
			var logs logBuffer
			s := openPresence(t, b, sse.PresenceOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), memory.PresenceFile) {
				t.Fatalf("logs %q: want a warning naming the file", logs.String())
			}
			if snap := snapshot(t, s, "t"); snap.Users != 0 || snap.Connections != 0 {
				t.Fatalf("snapshot %+v, want an empty topic", snap)
			}
			e := watchEvents(s)
			s.Add("t", "u", nil)
			if evs := waitEvents(t, e, 1); evs[0].Type != sse.EventJoin || evs[0].User != "u" {
				t.Fatalf("events %+v, want u's join", evs)
			}
		})
	}
}

// Without a data directory nothing is written.
func TestPresenceNoDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := memory.New(sse.BrokerOptions{DataDir: dir}) // New ignores DataDir
	s := openPresence(t, b, sse.PresenceOptions{})
	s.Add("t", "u", nil)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("data directory holds %v (%v), want nothing", entries, err)
	}
}
