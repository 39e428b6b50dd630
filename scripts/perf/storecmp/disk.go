package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// settle is how long the disk-bound run waits after its last publish
// before it measures the directory again: longer than the in-memory
// broker's janitor interval (5 s), which is when design A deletes
// segments, and time for pebble's compactions to drop tombstones.
const settle = 6 * time.Second

// childDisk publishes cfg.factor times cfg.bound bytes of data with
// HistoryMaxBytes = cfg.bound and samples the directory's size; then
// it waits settle and measures it again.
func childDisk(d design, dir string, cfg config) result {
	r := result{Design: d.name, Mode: "disk", Bound: cfg.bound}
	opts := sse.BrokerOptions{HistorySize: 1 << 20, HistoryAge: 24 * time.Hour, HistoryMaxBytes: int(cfg.bound)}
	s, err := d.open(dir, opts, cfg.diskFsync)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := dirSize(dir); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	n := cfg.factor * cfg.bound / int64(cfg.size)
	t0 := time.Now()
	acks, _, err := load(context.Background(), s, cfg.publishers, cfg.topics, cfg.size, func(done int64) bool { return done >= n }, false)
	r.Seconds = time.Since(t0).Seconds()
	r.Published = acks * int64(cfg.size)
	if err != nil {
		r.Err = err.Error()
	}
	r.DiskEnd, _ = dirSize(dir)
	time.Sleep(settle)
	close(stop)
	wg.Wait()
	r.DiskSettled, _ = dirSize(dir)
	r.ApparentEnd, _ = dirApparent(dir)
	if err := s.Close(); err != nil && r.Err == "" {
		r.Err = err.Error()
	}
	r.DiskClosed, _ = dirSize(dir)
	r.DiskPeak = max(peak.Load(), r.DiskEnd, r.DiskClosed)
	return r
}

// childShrink opens the history childFill left (cfg.history bytes) with
// HistoryMaxBytes = cfg.bound, publishes one event to each topic (each
// publish applies the bound), waits settle and measures the directory:
// whether lowering the bound, or a burst that has passed, gives the space
// back to the file system without a manual step.
func childShrink(d design, dir string, cfg config) result {
	r := result{Design: d.name, Mode: "shrink", Bound: cfg.bound}
	r.DiskPeak, _ = dirSize(dir)
	opts := sse.BrokerOptions{HistorySize: 1 << 20, HistoryAge: 24 * time.Hour, HistoryMaxBytes: int(cfg.bound)}
	s, err := d.open(dir, opts, fsyncAlways)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	rng := rand.NewChaCha8([32]byte{})
	for i := range cfg.topics {
		if _, err := s.Publish(context.Background(), sse.Message{Topics: []string{fmt.Sprintf("t%d", i)}, Event: "e", Data: payload(rng, cfg.size)}); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	// Two janitor rounds: the first may come late on a busy machine,
	// right after a recovery's garbage collection.
	time.Sleep(2 * settle)
	r.DiskSettled, _ = dirSize(dir)
	if err := s.Close(); err != nil {
		r.Err = err.Error()
	}
	r.DiskClosed, _ = dirSize(dir)
	return r
}

// dirSize is the disk space (allocated blocks) of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file deleted while we walk
		}
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n, err
}

// dirApparent is the sum of the sizes of the files under dir.
func dirApparent(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// rss returns this process's resident set, and its anonymous and
// file-backed parts (an mmap'd database file counts in the latter).
func rss() (total, anon, file uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			total = kb << 10
		case "RssAnon":
			anon = kb << 10
		case "RssFile":
			file = kb << 10
		}
	}
	return total, anon, file
}

// cpuTime is the CPU time (user and system) this process has used: on a
// machine shared with other work it says what a measurement cost where
// the wall clock says how long it waited too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
