package memory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// openDurable opens a broker on dir with opts' bounds (zero: defaults).
func openDurable(t *testing.T, dir string, opts sse.BrokerOptions) *memory.Broker {
	t.Helper()
	opts.DataDir = dir
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
	var am, as, bm, bs uint64
	fmt.Sscanf(strings.Replace(a, "-", " ", 1), "%d %d", &am, &as)
	fmt.Sscanf(strings.Replace(b, "-", " ", 1), "%d %d", &bm, &bs)
	return am < bm || (am == bm && as < bs)
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
	b, err := memory.OpenWithClock(sse.BrokerOptions{DataDir: dir, HistoryAge: 2 * time.Hour}, back)
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
	if !strings.Contains(err.Error(), dir) || !errors.Is(err, sse.ErrInvalidConfig) {
		t.Errorf("error %q does not name %s (or is not ErrInvalidConfig)", err, dir)
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
