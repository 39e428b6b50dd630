package seglog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// SyncMode says when Sync makes written records durable.
type SyncMode int

// The sync modes.
const (
	// SyncAlways: Sync fsyncs (once for every record written since the
	// last fsync: group commit).
	SyncAlways SyncMode = iota
	// SyncInterval: a goroutine fsyncs every Options.SyncInterval; Sync
	// returns at once.
	SyncInterval
	// SyncOff: the log fsyncs only a complete segment and at Close.
	SyncOff
)

// ErrLocked reports a directory in use by another process.
var ErrLocked = errors.New("in use by another process")

// ErrClosed reports a use of a closed log.
var ErrClosed = errors.New("seglog: log closed")

// Options configure a Log.
type Options struct {
	// Dir is the directory, created if missing.
	Dir string
	// SegmentBytes is the size past which a new segment is started.
	SegmentBytes int64
	// Sync and SyncInterval say when writes are made durable.
	Sync         SyncMode
	SyncInterval time.Duration
	// Logger receives the log's reports (damage found on Open).
	Logger *slog.Logger
	// Now is the clock a new dataset takes its first id from; nil means
	// time.Now.
	Now func() time.Time
	// Rotated, if set, is called when a new segment is started, so that
	// the owner can delete the ones it no longer needs at once rather
	// than on its next round. It is called with the log locked: it must
	// return at once and not use the log.
	Rotated func()
}

// Segment is one file of the log. Its owner counts with Ref the records
// of it that it still holds; a complete segment no one holds may be
// dropped.
type Segment struct {
	no    uint64
	refs  atomic.Int64
	size  atomic.Int64 // bytes written to its file
	maxID streamid.ID  // greatest id appended to it; guarded by Log.mu
}

// Ref adds n (negative to release) to the records of s its owner holds.
func (s *Segment) Ref(n int64) { s.refs.Add(n) }

// Refs returns the records of s its owner holds.
func (s *Segment) Refs() int64 { return s.refs.Load() }

// Size returns the bytes written to s's file.
func (s *Segment) Size() int64 { return s.size.Load() }

// Number returns s's number, which orders the segments.
func (s *Segment) Number() uint64 { return s.no }

func (s *Segment) name() string { return fmt.Sprintf("%016x.seg", s.no) }

// Batch is the records appended since the previous batch was written:
// written together (Write), made durable together (Sync).
type Batch struct {
	seq    uint64
	chunks []chunk
	err    error // of its write; read after Log.written covers seq
}

// chunk is the part of a batch that goes to one segment.
type chunk struct {
	seg *Segment
	buf []byte
}

// Log is an open log. Its methods are safe for concurrent use.
type Log struct {
	opts    Options
	lock    *os.File
	dataset Dataset // guarded by dsMu
	dsMu    sync.Mutex

	// mu guards the segments, the batch being appended to and the
	// newest segment's logical size (with what is not written yet).
	mu       sync.Mutex
	segs     []*Segment // oldest first; the last is the one appended to
	cur      *Batch
	tailSize int64
	closed   bool

	// wmu serializes the writes: a batch is taken and written under it,
	// in order.
	wmu     sync.Mutex
	file    atomic.Pointer[os.File] // file of the segment written to; nil between two
	fileSeg *Segment                // guarded by wmu
	written atomic.Uint64           // batches up to this seq are written

	// smu guards the fsync under way (one at a time, made without smu
	// held) and its outcome; a rotation closes a file under it, once no
	// fsync is under way.
	smu        sync.Mutex
	syncing    bool
	syncDone   chan struct{} // closed when the fsync under way ends
	failedUpTo uint64        // batches up to it were in a failed fsync
	syncErr    error
	synced     atomic.Uint64 // batches up to this seq are durable
	syncs      atomic.Int64  // fsyncs of segment files
	writes     atomic.Int64  // batches written

	stop chan struct{}
	wg   sync.WaitGroup
}

// Dataset returns the log's dataset identity.
func (l *Log) Dataset() Dataset {
	l.dsMu.Lock()
	defer l.dsMu.Unlock()
	return l.dataset
}

// Append adds rec to the batch being gathered and returns the batch and
// the segment rec goes to. Call Write with the batch before the record is
// seen by anyone, and Sync before it is acknowledged.
func (l *Log) Append(rec *Record) (*Batch, *Segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tail := l.segs[len(l.segs)-1]
	n := int64(FrameBytes(rec))
	if l.tailSize > 0 && l.tailSize+n > l.opts.SegmentBytes {
		tail = &Segment{no: tail.no + 1}
		l.segs = append(l.segs, tail)
		l.tailSize = 0
		if l.opts.Rotated != nil {
			l.opts.Rotated()
		}
	}
	b := l.cur
	if len(b.chunks) == 0 || b.chunks[len(b.chunks)-1].seg != tail {
		b.chunks = append(b.chunks, chunk{seg: tail})
	}
	c := &b.chunks[len(b.chunks)-1]
	before := len(c.buf)
	c.buf = appendRecord(c.buf, rec)
	l.tailSize += int64(len(c.buf) - before)
	if tail.maxID.Less(rec.ID) {
		tail.maxID = rec.ID
	}
	return b, tail
}

// Write writes b (and the batches before it) to the segment files, unless
// that is done already, and returns the error of b's write. Records of a
// batch that failed are not in the log (the file is cut back).
func (l *Log) Write(b *Batch) error {
	if b.seq <= l.written.Load() {
		return b.err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if b.seq <= l.written.Load() {
		return b.err
	}
	// b is the batch being gathered: every one before it is written.
	l.mu.Lock()
	l.cur = &Batch{seq: b.seq + 1}
	l.mu.Unlock()
	b.err = l.writeBatch(b)
	l.writes.Add(1)
	b.chunks = nil
	l.written.Store(b.seq)
	return b.err
}

// writeBatch writes b's chunks, starting a segment's file when a chunk
// is the first of it. wmu is held.
func (l *Log) writeBatch(b *Batch) error {
	// The size of each segment before its part of the batch, to cut
	// every part back if a later one fails: a batch is written whole or
	// not at all, since each of its publishes is answered as failed.
	var parts []part
	for _, c := range b.chunks {
		if c.seg != l.fileSeg {
			if err := l.startFile(c.seg, b.seq-1); err != nil {
				l.cutBack(parts)
				return err
			}
		}
		parts = append(parts, part{seg: c.seg, size: c.seg.size.Load()})
		if _, err := l.file.Load().Write(c.buf); err != nil {
			l.cutBack(parts)
			return fmt.Errorf("seglog: %w", err) // a *fs.PathError: the file and the cause
		}
		c.seg.size.Add(int64(len(c.buf)))
	}
	return nil
}

// part is a segment's size before a batch's part of it.
type part struct {
	seg  *Segment
	size int64
}

// cutBack cuts each of parts' segments back to its size.
func (l *Log) cutBack(parts []part) {
	for _, p := range parts {
		l.cutBack1(p.seg, p.size)
	}
}

// cutBack1 cuts seg's file back to size, so that the next record starts
// on a record boundary and no record of a failed batch is read back. wmu
// is held.
func (l *Log) cutBack1(seg *Segment, size int64) {
	if f := l.file.Load(); f != nil && seg == l.fileSeg {
		_ = f.Truncate(size)
		_, _ = f.Seek(0, io.SeekEnd)
	} else if err := cutFile(filepath.Join(l.opts.Dir, seg.name()), size); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.opts.Logger.Error("ssevents: failed write not cut back from the history", "file", seg.name(), "err", err)
	}
	seg.size.Store(size)
}

// startFile makes seg's file the one written to. The previous file is
// synced, in every mode (a complete segment is durable), and closed under
// smu once no fsync is under way, so that none sees it closed; batches up
// to done are then durable. wmu is held.
func (l *Log) startFile(seg *Segment, done uint64) error {
	if old := l.file.Load(); old != nil {
		l.smu.Lock()
		l.waitSyncIdle()
		err := old.Sync()
		if err == nil && l.synced.Load() < done {
			l.synced.Store(done)
		}
		l.file.Store(nil)
		_ = old.Close()
		l.smu.Unlock()
		l.fileSeg = nil
		if err != nil {
			return fmt.Errorf("seglog: sync %s: %w", l.opts.Dir, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, seg.name()), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		err = syncDir(l.opts.Dir)
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return fmt.Errorf("seglog: start segment: %w", err)
	}
	l.file.Store(f)
	l.fileSeg = seg
	return nil
}

// Stats are counts of a log's work since it was opened.
type Stats struct {
	// Writes is the number of batches written (write(2) calls, less
	// those of segments started).
	Writes int64
	// Syncs is the number of fsyncs of segment files: with SyncAlways,
	// publishes per sync tell how well group commit works.
	Syncs int64
}

// Stats returns the log's counts.
func (l *Log) Stats() Stats { return Stats{Writes: l.writes.Load(), Syncs: l.syncs.Load()} }

// Segments returns the segments, oldest first; the last is the one
// appended to.
func (l *Log) Segments() []*Segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Segment(nil), l.segs...)
}

// Size returns the bytes of the segment files.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.Segments() {
		n += s.Size()
	}
	return n
}

// Drop deletes the oldest segment, s, which must not be the newest: the
// dataset's floor is moved past its records first, durably.
func (l *Log) Drop(s *Segment) error {
	l.mu.Lock()
	if len(l.segs) < 2 || l.segs[0] != s {
		l.mu.Unlock()
		return fmt.Errorf("seglog: segment %s is not the oldest complete one", s.name())
	}
	maxID := s.maxID
	l.mu.Unlock()
	l.dsMu.Lock()
	d := l.dataset
	if d.Floor.Less(maxID) {
		d.Floor = maxID
	}
	err := writeDataset(l.opts.Dir, d)
	if err == nil {
		l.dataset = d
	}
	l.dsMu.Unlock()
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(l.opts.Dir, s.name())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l.mu.Lock()
	l.segs = l.segs[1:]
	l.mu.Unlock()
	return nil
}

// Flush writes and syncs every record appended so far.
func (l *Log) Flush() error {
	l.mu.Lock()
	b := l.cur
	l.mu.Unlock()
	if len(b.chunks) > 0 {
		if err := l.Write(b); err != nil {
			return err
		}
	}
	return l.syncUpTo(l.written.Load())
}

// Close writes and syncs what was appended, and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	err := l.Flush()
	l.wmu.Lock()
	if f := l.file.Load(); f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		l.file.Store(nil)
	}
	l.wmu.Unlock()
	_ = l.lock.Close()
	return err
}
