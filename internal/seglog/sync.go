package seglog

import (
	"fmt"
	"time"
)

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

// syncUpTo returns once batch seq is durable. The first caller to find
// no fsync under way starts one, without holding smu, covering every batch
// written so far; the others wait for it and, when it did not cover them,
// the next: each fsync takes all the writes made during the one before
// (group commit), instead of one small fsync per waiter.
func (l *Log) syncUpTo(seq uint64) error {
	l.smu.Lock()
	for {
		if seq <= l.synced.Load() {
			l.smu.Unlock()
			return nil
		}
		if seq <= l.failedUpTo {
			err := l.syncErr
			l.smu.Unlock()
			return err
		}
		if l.syncing {
			done := l.syncDone
			l.smu.Unlock()
			<-done
			l.smu.Lock()
			continue
		}
		l.syncing = true
		w := l.written.Load()
		f := l.file.Load()
		l.smu.Unlock()
		var err error
		if f != nil {
			l.syncs.Add(1)
			err = f.Sync()
		}
		l.smu.Lock()
		l.syncing = false
		if err != nil {
			l.failedUpTo, l.syncErr = w, fmt.Errorf("seglog: sync %s: %w", l.opts.Dir, err)
		} else if l.synced.Load() < w {
			l.synced.Store(w)
		}
		close(l.syncDone)
		l.syncDone = make(chan struct{})
	}
}

// waitSyncIdle waits until no fsync is under way. smu is held, and held
// again on return.
func (l *Log) waitSyncIdle() {
	for l.syncing {
		done := l.syncDone
		l.smu.Unlock()
		<-done
		l.smu.Lock()
	}
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
