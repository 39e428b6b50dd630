package seglog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents/internal/seglog"
	"github.com/ssevents/ssevents/internal/streamid"
)

// got is what Open read back: the records' ids and data, by segment.
type got struct {
	ids  []streamid.ID
	data []string
	segs []uint64
}

func (g *got) add(rec *seglog.Record, seg *seglog.Segment) {
	g.ids = append(g.ids, rec.ID)
	g.data = append(g.data, string(rec.Data))
	g.segs = append(g.segs, seg.Number())
}

// open opens dir, failing the test on an error.
func open(t *testing.T, dir string, opts seglog.Options) (*seglog.Log, seglog.Recovery, *got) {
	t.Helper()
	opts.Dir = dir
	g := &got{}
	l, rec, err := seglog.Open(opts, g.add)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rec, g
}

// write appends and writes and syncs one record with id ms-0 on topics.
func write(t *testing.T, l *seglog.Log, ms uint64, data string, topics ...string) *seglog.Segment {
	t.Helper()
	b, seg := l.Append(&seglog.Record{ID: streamid.ID{Ms: ms}, Time: int64(ms), Topics: topics, Data: []byte(data)})
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(b); err != nil {
		t.Fatal(err)
	}
	return seg
}

func TestReopenReadsEveryRecordInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, rec, _ := open(t, dir, seglog.Options{SegmentBytes: 300})
	if !rec.New {
		t.Error("a new directory is not a new dataset")
	}
	ds := l.Dataset()
	var want []string
	for i := range 20 {
		d := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 50))
		write(t, l, uint64(100+i), d, "a", "b")
		want = append(want, d)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec, g := open(t, dir, seglog.Options{SegmentBytes: 300})
	defer l.Close()
	if rec.New || l.Dataset() != ds {
		t.Errorf("dataset after reopening %+v (new %v), want %+v", l.Dataset(), rec.New, ds)
	}
	if !slices.Equal(g.data, want) || rec.Records != 20 || rec.MaxID != (streamid.ID{Ms: 119}) {
		t.Errorf("read back %d records (max %v): %v", rec.Records, rec.MaxID, g.data)
	}
	if n := len(slices.Compact(slices.Clone(g.segs))); n < 5 {
		t.Errorf("20 records of ~100 bytes in segments of 300 bytes: %d segments", n)
	}
}

// TestGroupCommit: records written by many writers before any of them
// syncs are made durable by one fsync.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	l, _, _ := open(t, t.TempDir(), seglog.Options{})
	defer l.Close()
	const writers = 64
	batches := make([]*seglog.Batch, writers)
	for i := range writers {
		b, _ := l.Append(&seglog.Record{ID: streamid.ID{Ms: uint64(i + 1)}, Topics: []string{"t"}, Data: []byte("1")})
		if err := l.Write(b); err != nil {
			t.Fatal(err)
		}
		batches[i] = b
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Go(func() {
			if err := l.Sync(b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := l.Stats(); st.Syncs != 1 {
		t.Errorf("%d fsyncs for %d records written before the first sync, want 1", st.Syncs, writers)
	}
}

// lastSegment returns the path of the newest segment file of dir.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	slices.Sort(m)
	return m[len(m)-1]
}

func TestTornTailIsCutOff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, _ := open(t, dir, seglog.Options{})
	write(t, l, 1, "one", "a")
	write(t, l, 2, "two", "a")
	l.Close()
	path := lastSegment(t, dir)
	fi, _ := os.Stat(path)
	// A crash in the middle of the last record's write.
	if err := os.Truncate(path, fi.Size()-2); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // and again: the cut is durable, no loop
		l, rec, g := open(t, dir, seglog.Options{})
		if !slices.Equal(g.data, []string{"one"}) {
			t.Errorf("round %d: read back %v, want [one]", round, g.data)
		}
		if (round == 0) != (rec.TornBytes > 0) || rec.Damaged != 0 {
			t.Errorf("round %d: torn %d bytes, damaged %d; want a torn end in round 0 only, no damage", round, rec.TornBytes, rec.Damaged)
		}
		l.Close()
	}
}

// corrupt flips the byte at offset off of path.
func corrupt(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedDataLosesOnlyItsRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, _ := open(t, dir, seglog.Options{})
	write(t, l, 1, "one", "a")
	write(t, l, 2, "two-damaged", "b", "c")
	write(t, l, 3, "three", "a")
	l.Close()
	path := lastSegment(t, dir)
	b, _ := os.ReadFile(path)
	corrupt(t, path, bytes.Index(b, []byte("two-damaged"))+3)
	l, rec, g := open(t, dir, seglog.Options{})
	defer l.Close()
	if !slices.Equal(g.data, []string{"one", "three"}) {
		t.Errorf("read back %v, want [one three]", g.data)
	}
	want := map[string]streamid.ID{"b": {Ms: 2}, "c": {Ms: 2}}
	if rec.Damaged != 1 || len(rec.LostTopics) != 2 || rec.LostTopics["b"] != want["b"] || rec.LostTopics["c"] != want["c"] || !rec.LostBefore.IsZero() {
		t.Errorf("recovery %+v, want one damaged record of topics b, c at 2-0", rec)
	}
}

func TestDamagedHeaderLosesASpanOfUnknownTopics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, _ := open(t, dir, seglog.Options{})
	write(t, l, 1, "one", "a")
	write(t, l, 2, "two", "b")
	write(t, l, 3, "three", "a")
	l.Close()
	path := lastSegment(t, dir)
	b, _ := os.ReadFile(path)
	corrupt(t, path, bytes.Index(b, []byte("one"))+len("one")+6) // inside record 2's frame header
	l, rec, g := open(t, dir, seglog.Options{})
	defer l.Close()
	if !slices.Equal(g.data, []string{"one", "three"}) {
		t.Errorf("read back %v, want [one three]", g.data)
	}
	if rec.Damaged != 1 || rec.LostBefore != (streamid.ID{Ms: 3}) || rec.TornBytes != 0 {
		t.Errorf("recovery %+v, want one damaged span, lost before 3-0", rec)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, _ := open(t, dir, seglog.Options{})
	defer l.Close()
	_, _, err := seglog.Open(seglog.Options{Dir: dir}, func(*seglog.Record, *seglog.Segment) {})
	if !errors.Is(err, seglog.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second Open: %v, want ErrLocked naming %s", err, dir)
	}
}

func TestDropMovesTheFloor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, _ := open(t, dir, seglog.Options{SegmentBytes: 100})
	first := write(t, l, 1, strings.Repeat("x", 90), "a")
	write(t, l, 2, strings.Repeat("y", 90), "a")
	if segs := l.Segments(); len(segs) < 2 || segs[0] != first {
		t.Fatalf("segments %v", segs)
	}
	if err := l.Drop(first); err != nil {
		t.Fatal(err)
	}
	if f := l.Dataset().Floor; f != (streamid.ID{Ms: 1}) {
		t.Errorf("floor %v after dropping the segment of 1-0", f)
	}
	l.Close()
	l, rec, g := open(t, dir, seglog.Options{SegmentBytes: 100})
	defer l.Close()
	if l.Dataset().Floor != (streamid.ID{Ms: 1}) || len(g.data) != 1 || rec.MaxID != (streamid.ID{Ms: 2}) {
		t.Errorf("after reopening: floor %v, %d records, max %v", l.Dataset().Floor, len(g.data), rec.MaxID)
	}
}
