package seglog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// Recovery is what Open found in the directory.
type Recovery struct {
	// New says the directory held no dataset (or a damaged identity, whose
	// files were moved aside to MovedTo): a new one was made.
	New     bool
	MovedTo string
	// Records is the number of records read back; MaxID the greatest id
	// among them (zero for none).
	Records int
	MaxID   streamid.ID
	// TornBytes were cut off the end of the newest segment: a record a
	// crash interrupted.
	TornBytes int64
	// Damaged is the number of damaged spans skipped (not counting a torn
	// end), DamagedBytes their size.
	Damaged      int
	DamagedBytes int64
	// LostTopics holds, for each topic of a damaged record whose header
	// was intact, the greatest such id.
	LostTopics map[string]streamid.ID
	// LostBefore: a span of records of unknown topics was damaged; a
	// record of any topic with an id before LostBefore may be lost.
	LostBefore streamid.ID
}

// Open opens the log in opts.Dir, creating the directory and a new
// dataset when it has none, and calls fn with every record it holds, in
// the order they were written, with the segment it is in. It fails at
// once, naming the directory, when another process has it open
// (ErrLocked).
func Open(opts Options, fn func(rec *Record, seg *Segment)) (*Log, Recovery, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, Recovery{}, fmt.Errorf("seglog: data directory: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, Recovery{}, err
	}
	l := &Log{opts: opts, lock: lock, stop: make(chan struct{})}
	rec, err := l.recover(fn)
	if err != nil {
		_ = lock.Close()
		return nil, Recovery{}, err
	}
	l.cur = &Batch{seq: 1}
	if opts.Sync == SyncInterval {
		l.wg.Add(1)
		go l.syncLoop()
	}
	return l, rec, nil
}

// recover reads the dataset and the segments.
func (l *Log) recover(fn func(*Record, *Segment)) (Recovery, error) {
	dir := l.opts.Dir
	var out Recovery
	nums, err := segmentNumbers(dir)
	if err != nil {
		return out, err
	}
	d, ok, derr := readDataset(dir)
	if derr != nil || (!ok && len(nums) > 0) {
		// Records without an identity cannot be trusted to be this
		// dataset's: keep them aside, start anew.
		if out.MovedTo, err = moveAside(dir, nums); err != nil {
			return out, err
		}
		l.opts.Logger.Error("ssevents: data directory had no valid dataset identity; its segments were moved aside and a new dataset started",
			"dir", dir, "moved_to", out.MovedTo, "err", derr)
		nums, ok = nil, false
	}
	if !ok {
		d = newDataset(streamid.ID{Ms: uint64(l.opts.Now().UnixMilli())})
		if err := writeDataset(dir, d); err != nil {
			return out, fmt.Errorf("seglog: data directory: %w", err)
		}
		out.New = true
	}
	l.dataset = d
	out.LostTopics = map[string]streamid.ID{}
	pending := false // a damaged span waits for the next record's id
	for i, no := range nums {
		seg := &Segment{no: no}
		if err := l.readSegment(seg, i == len(nums)-1, &out, &pending, fn); err != nil {
			return out, err
		}
		l.segs = append(l.segs, seg)
	}
	if pending {
		out.LostBefore = streamid.ID{Ms: out.MaxID.Ms, Seq: out.MaxID.Seq + 1}
	}
	next := uint64(1)
	if len(nums) > 0 {
		next = nums[len(nums)-1] + 1
	}
	l.segs = append(l.segs, &Segment{no: next})
	return out, nil
}

// readSegment reads seg's records into fn, skipping damage; last says seg
// is the newest, whose torn end is cut off.
func (l *Log) readSegment(seg *Segment, last bool, out *Recovery, pending *bool, fn func(*Record, *Segment)) error {
	path := filepath.Join(l.opts.Dir, seg.name())
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("seglog: read %s: %w", path, err)
	}
	var rec Record
	seen := func() {
		if seg.maxID.Less(rec.ID) {
			seg.maxID = rec.ID
		}
		if out.MaxID.Less(rec.ID) {
			out.MaxID = rec.ID
		}
		if *pending {
			if out.LostBefore.Less(rec.ID) {
				out.LostBefore = rec.ID
			}
			*pending = false
		}
	}
	for pos := 0; pos < len(data); {
		st, n := parseFrame(data[pos:], &rec)
		switch st {
		case frameOK:
			seen()
			out.Records++
			fn(&rec, seg)
			pos += n
			continue
		case frameBadData:
			seen()
			for _, t := range rec.Topics {
				if out.LostTopics[t].Less(rec.ID) {
					out.LostTopics[t] = rec.ID
				}
			}
			out.Damaged++
			out.DamagedBytes += int64(n)
			l.opts.Logger.Error("ssevents: damaged record in history skipped", "file", path, "offset", pos, "id", rec.ID.String(), "topics", rec.Topics)
			pos += n
			continue
		}
		next := findFrame(data, pos+1)
		if next < 0 && last {
			out.TornBytes += int64(len(data) - pos)
			l.opts.Logger.Warn("ssevents: torn record at the end of the history cut off", "file", path, "offset", pos, "bytes", len(data)-pos)
			if err := cutFile(path, int64(pos)); err != nil {
				return err
			}
			data = data[:pos]
			break
		}
		if next < 0 {
			next = len(data)
		}
		out.Damaged++
		out.DamagedBytes += int64(next - pos)
		*pending = true
		l.opts.Logger.Error("ssevents: damaged span in history skipped", "file", path, "offset", pos, "bytes", next-pos)
		pos = next
	}
	seg.size.Store(int64(len(data)))
	return nil
}

// findFrame returns the position of the first frame at or after from
// whose header is valid, -1 when there is none.
func findFrame(data []byte, from int) int {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], magic)
	var rec Record
	for from < len(data) {
		i := bytes.Index(data[from:], m[:])
		if i < 0 {
			return -1
		}
		if st, _ := parseFrame(data[from+i:], &rec); st == frameOK || st == frameBadData {
			return from + i
		}
		from += i + 1
	}
	return -1
}

// cutFile truncates path to size, durably.
func cutFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// segmentNumbers returns the numbers of the segment files in dir, in
// increasing order.
func segmentNumbers(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("seglog: data directory: %w", err)
	}
	var nums []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(name, 16, 64); err == nil {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// moveAside moves the segments nums and the identity file of dir into a
// new subdirectory, whose path it returns.
func moveAside(dir string, nums []uint64) (string, error) {
	aside := filepath.Join(dir, fmt.Sprintf("damaged-%d", time.Now().UnixNano()))
	if err := os.Mkdir(aside, 0o755); err != nil {
		return "", err
	}
	names := []string{datasetFile}
	for _, n := range nums {
		names = append(names, (&Segment{no: n}).name())
	}
	for _, name := range names {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(aside, name)); err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	return aside, syncDir(dir)
}

// ReadSegment calls fn with every valid record of s, a complete segment,
// in file order; damaged records are skipped. Its Data is valid only
// during the call.
func (l *Log) ReadSegment(s *Segment, fn func(rec *Record)) error {
	data, err := os.ReadFile(filepath.Join(l.opts.Dir, s.name()))
	if err != nil {
		return err
	}
	var rec Record
	for pos := 0; pos < len(data); {
		st, n := parseFrame(data[pos:], &rec)
		switch st {
		case frameOK:
			fn(&rec)
			pos += n
		case frameBadData:
			pos += n
		default:
			next := findFrame(data, pos+1)
			if next < 0 {
				return nil
			}
			pos = next
		}
	}
	return nil
}
