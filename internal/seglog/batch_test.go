package seglog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
)

// A batch whose records span a segment rotation: the first part is
// written, the second fails (its segment's file cannot be created). Write
// reports the batch failed, so every publish of it is answered 503 (not
// published): no record of it may be read back, the first part included.
func TestBatchFailedAcrossSegmentsLeavesNoRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _, err := Open(Options{Dir: dir, SegmentBytes: 200}, func(*Record, *Segment) {})
	if err != nil {
		t.Fatal(err)
	}
	// The file of the segment after the current one cannot be created.
	next := l.Segments()[0].no + 1
	if err := os.Mkdir(filepath.Join(dir, (&Segment{no: next}).name()), 0o750); err != nil {
		t.Fatal(err)
	}
	a := &Record{ID: streamid.ID{Ms: 10}, Topics: []string{"t"}, Data: make([]byte, 100)}
	b := &Record{ID: streamid.ID{Ms: 11}, Topics: []string{"t"}, Data: make([]byte, 100)}
	batch, s1 := l.Append(a)
	batch2, s2 := l.Append(b)
	if batch != batch2 || s1 == s2 {
		t.Fatalf("want one batch over two segments")
	}
	werr := l.Write(batch)
	if werr == nil {
		t.Fatal("Write succeeded though the second segment's file cannot be created")
	}
	_ = l.Close()
	var got []streamid.ID
	l2, _, err := Open(Options{Dir: dir, SegmentBytes: 200}, func(r *Record, _ *Segment) { got = append(got, r.ID) })
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if len(got) > 0 {
		t.Errorf("Write failed (%v), so both publishes are answered 503, yet %v are read back after a restart", werr, got)
	}
}
