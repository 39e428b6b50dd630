package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// openDurable opens a broker on dir with opts' bounds (zero: defaults).
func openDurable(t *testing.T, dir string, opts sse.BrokerOptions) *memory.Broker {
	t.Helper()
	opts.DataDir = dir
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := memory.Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return b
}

// pub publishes data to topics and returns the id.
func pub(t *testing.T, b sse.Broker, data string, topics ...string) string {
	t.Helper()
	id, err := b.Publish(context.Background(), sse.Message{Topics: topics, Data: []byte(data)})
	if err != nil {
		t.Fatalf("Publish(%v): %v", topics, err)
	}
	return id
}

// backlogOf returns the backlog of a subscription to topics from last.
func backlogOf(t *testing.T, b sse.Broker, last string, topics ...string) sse.Backlog {
	t.Helper()
	s, err := b.Subscribe(context.Background(), sse.SubscribeRequest{Topics: topics, LastEventID: last})
	if err != nil {
		t.Fatalf("Subscribe(%v, %s): %v", topics, last, err)
	}
	defer s.Close()
	return s.Backlog()
}

// ids returns the ids of evs.
func ids(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestDurableRestartKeepsHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openDurable(t, dir, sse.BrokerOptions{})
	first := pub(t, b, `"start"`, "a")
	var want []string
	for i := range 20 {
		want = append(want, pub(t, b, fmt.Sprintf(`{"n":%d}`, i), "a"))
		pub(t, b, `"other"`, "b")
		if i%5 == 0 {
			want = append(want, pub(t, b, `"both"`, "a", "b"))
		}
	}
	keyed, err := b.Publish(context.Background(), sse.Message{Topics: []string{"a"}, Data: []byte(`"k"`), IdempotencyKey: "key-1"})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, keyed)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openDurable(t, dir, sse.BrokerOptions{})
	defer b.Close()
	bl := backlogOf(t, b, first, "a")
	if len(bl.Resync) != 0 {
		t.Errorf("resync after a restart: %+v", bl.Resync)
	}
	if got := ids(bl.Events); !slices.Equal(got, want) {
		t.Errorf("events after the restart:\n got %v\nwant %v", got, want)
	}
	if len(bl.Events) > 0 && string(bl.Events[0].Data) != `{"n":0}` {
		t.Errorf("first event's data %s, want {\"n\":0}", bl.Events[0].Data)
	}
	// The idempotency record came back: a retry is answered with its id.
	again, err := b.Publish(context.Background(), sse.Message{Topics: []string{"a"}, Data: []byte(`"k"`), IdempotencyKey: "key-1"})
	if err != nil || again != keyed {
		t.Errorf("retry after the restart: %s, %v; want %s", again, err, keyed)
	}
	// Ids go on after the last one.
	if next := pub(t, b, `"next"`, "a"); !idLess(keyed, next) {
		t.Errorf("id after the restart %s is not after %s", next, keyed)
	}
}

// idLess compares two ids "<ms>-<seq>".
func idLess(a, b string) bool {
	x, errA := streamid.Parse(a)
	y, errB := streamid.Parse(b)
	return errA == nil && errB == nil && x.Less(y)
}

func TestDurableClockSteppedBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openDurable(t, dir, sse.BrokerOptions{})
	last := pub(t, b, `1`, "a")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	back := func() time.Time { return time.Now().Add(-time.Hour) }
	b, err := memory.OpenWithClock(sse.BrokerOptions{DataDir: dir, HistoryAge: 2 * time.Hour, Logger: slog.New(slog.DiscardHandler)}, back)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	next := pub(t, b, `2`, "a")
	if !idLess(last, next) {
		t.Fatalf("with the clock an hour back, id %s follows %s", next, last)
	}
	if bl := backlogOf(t, b, last, "a"); len(bl.Resync) != 0 || !slices.Equal(ids(bl.Events), []string{next}) {
		t.Errorf("resume from %s: events %v resync %+v, want [%s]", last, ids(bl.Events), bl.Resync, next)
	}
}

func TestDurableDirectoryLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openDurable(t, dir, sse.BrokerOptions{})
	defer b.Close()
	_, err := memory.Open(sse.BrokerOptions{DataDir: dir})
	if err == nil {
		t.Fatal("a second Open of the same directory succeeded")
	}
	if !strings.Contains(err.Error(), dir) || !errors.Is(err, seglog.ErrLocked) {
		t.Errorf("error %q does not name %s (or is not ErrLocked)", err, dir)
	}
	// The first broker is unharmed.
	pub(t, b, `1`, "a")
}

func TestDurableNewDatasetWhenDirectoryReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openDurable(t, dir, sse.BrokerOptions{})
	old := pub(t, b, `1`, "a")
	pub(t, b, `2`, "a")
	b.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	b = openDurable(t, dir, sse.BrokerOptions{})
	defer b.Close()
	pub(t, b, `3`, "a")
	bl := backlogOf(t, b, old, "a")
	if len(bl.Resync) != 1 || bl.Resync[0].Reason != sse.ResyncDatasetChanged {
		t.Errorf("resume from an id of the deleted directory: resync %+v, want dataset_changed", bl.Resync)
	}
}

// segments returns the segment files of dir, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// A damaged record in the middle of a segment loses only itself: a resume
// from before it on its topic answers resync data_lost, on another topic
// it replays everything.
func TestDurableDamageResyncsOnlyItsTopics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openDurable(t, dir, sse.BrokerOptions{})
	start := pub(t, b, `"start"`, "a", "b")
	a1 := pub(t, b, `"a1"`, "a")
	pub(t, b, `"b-damaged"`, "b")
	a2 := pub(t, b, `"a2"`, "a")
	b2 := pub(t, b, `"b2"`, "b")
	b.Close()
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), `"b-damaged"`)
	data[i+2] ^= 0xff
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b = openDurable(t, dir, sse.BrokerOptions{})
	defer b.Close()
	if rec := b.Recovery(); rec.Damaged != 1 {
		t.Errorf("recovery %+v, want 1 damaged", rec)
	}
	bl := backlogOf(t, b, start, "b")
	if len(bl.Resync) != 1 || bl.Resync[0].Reason != sse.ResyncDataLost || !slices.Equal(ids(bl.Events), []string{b2}) {
		t.Errorf("topic b from before the damage: resync %+v events %v, want data_lost and [%s]", bl.Resync, ids(bl.Events), b2)
	}
	bl = backlogOf(t, b, start, "a")
	if len(bl.Resync) != 0 || !slices.Equal(ids(bl.Events), []string{a1, a2}) {
		t.Errorf("topic a: resync %+v events %v, want none and [%s %s]", bl.Resync, ids(bl.Events), a1, a2)
	}
	if bl = backlogOf(t, b, b2, "b"); len(bl.Resync) != 0 {
		t.Errorf("topic b from after the damage: resync %+v", bl.Resync)
	}
}

// Publishing ten times the byte bound keeps the directory within
// 2 × HistoryMaxBytes plus two segments, and the history survives a
// restart after it: an event of a quiet topic, which pins its segment,
// is copied forward rather than lost.
func TestDurableDiskStaysBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const bound = 1 << 20
	// The bound does not depend on when records are synced: off keeps
	// the test short.
	opts := sse.BrokerOptions{HistoryMaxBytes: bound, HistorySize: 20, Fsync: sse.FsyncOff}
	b := openDurable(t, dir, opts)
	data := `"` + strings.Repeat("x", 1000) + `"`
	anchor := pub(t, b, `"anchor"`, "anchor")
	want := []string{pub(t, b, `"pinned"`, "pinned")}
	var last string
	for i := range 10 * bound / 1000 {
		last = pub(t, b, data, fmt.Sprintf("t%d", i%20))
		if i%1000 == 999 {
			want = append(want, pub(t, b, `"keep"`, "pinned"))
			memory.MaintainLog(b)
		}
	}
	memory.MaintainLog(b)
	limit := 2*int64(bound) + 2*memory.SegmentBytes(bound)
	t.Logf("data directory: %d bytes after publishing %d bytes of data (bound %d, limit %d)", b.DiskBytes(), 10*bound, bound, limit)
	if n := b.DiskBytes(); n > limit {
		t.Errorf("data directory holds %d bytes after publishing %d, want at most %d", n, 10*bound, limit)
	}
	if err := memory.CheckAccounting(b); err != nil {
		t.Error(err)
	}
	b.Close()
	b = openDurable(t, dir, opts)
	defer b.Close()
	// The quiet topic's events all came back; a resume from before the
	// deleted segments may resync (see Open), but loses nothing.
	bl := backlogOf(t, b, anchor, "pinned")
	if got := ids(bl.Events); !slices.Equal(got, want) {
		t.Errorf("topic pinned after the restart: %v, want %v", got, want)
	}
	if bl = backlogOf(t, b, want[len(want)-1], "pinned"); len(bl.Resync) != 0 || len(bl.Events) != 0 {
		t.Errorf("resume from pinned's last id: resync %+v, %d events", bl.Resync, len(bl.Events))
	}
	if bl = backlogOf(t, b, last, "t0", "t1"); len(bl.Resync) != 0 || len(bl.Events) != 0 {
		t.Errorf("resume from the last id: resync %+v, %d events", bl.Resync, len(bl.Events))
	}
}
