package seglog

import (
	"errors"
	"fmt"
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
var ErrLocked = errors.New("seglog: data directory in use")

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

	// smu serializes the fsyncs; a rotation closes a file under it.
	smu    sync.Mutex
	synced atomic.Uint64 // batches up to this seq are durable

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
	b.chunks = nil
	l.written.Store(b.seq)
	return b.err
}

// writeBatch writes b's chunks, starting a segment's file when a chunk
// is the first of it. wmu is held.
func (l *Log) writeBatch(b *Batch) error {
	for _, c := range b.chunks {
		if c.seg != l.fileSeg {
			if err := l.startFile(c.seg, b.seq-1); err != nil {
				return err
			}
		}
		f := l.file.Load()
		if _, err := f.Write(c.buf); err != nil {
			// Cut off what part of the batch reached the file, so that
			// the next write starts on a record boundary.
			_ = f.Truncate(c.seg.size.Load())
			_, _ = f.Seek(0, 2)
			return fmt.Errorf("seglog: write %s: %w", filepath.Join(l.opts.Dir, c.seg.name()), err)
		}
		c.seg.size.Add(int64(len(c.buf)))
	}
	return nil
}

// startFile makes seg's file the one written to. The previous file is
// synced, in every mode (a complete segment is durable), and closed under
// smu, so that a Sync in progress never sees it closed; batches up to
// done are then durable. wmu is held.
func (l *Log) startFile(seg *Segment, done uint64) error {
	if old := l.file.Load(); old != nil {
		l.smu.Lock()
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
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, seg.name()), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
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

// Sync makes b durable in SyncAlways mode: it fsyncs the segment written
// to, unless a Sync since b was written did, so that the records of all
// the batches written meanwhile share one fsync. In the other modes it
// returns at once. Call it after Write returned nil.
func (l *Log) Sync(b *Batch) error {
	if l.opts.Sync != SyncAlways || b.seq <= l.synced.Load() {
		return nil
	}
	return l.syncUpTo(b.seq)
}

// syncUpTo fsyncs unless batch seq is durable already.
func (l *Log) syncUpTo(seq uint64) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	if seq <= l.synced.Load() {
		return nil
	}
	w := l.written.Load()
	if f := l.file.Load(); f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("seglog: sync %s: %w", l.opts.Dir, err)
		}
	}
	if l.synced.Load() < w {
		l.synced.Store(w)
	}
	return nil
}

// syncLoop fsyncs every SyncInterval (SyncInterval mode).
func (l *Log) syncLoop() {
	defer l.wg.Done()
	tick := time.NewTicker(l.opts.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			if err := l.syncUpTo(l.written.Load()); err != nil {
				l.opts.Logger.Error("ssevents: history sync failed", "err", err)
			}
		}
	}
}

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
