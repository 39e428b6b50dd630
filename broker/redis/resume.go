package redis

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// maxBacklogReads is how many backlog reads a broker has in Redis at once.
// Redis runs scripts one at a time, so more in flight makes none finish
// sooner: a few hide the round trip, and the rest wait here rather than
// in the command connections' queues, where a topic's sync, a publish or
// a health check would queue behind every resuming stream of a storm.
// Reads that wait here are coalesced (see resumeReads).
const maxBacklogReads = 4

// resumeReads coalesces the backlog reads of subscriptions that resume on
// the same topics from the same Last-Event-ID: after a restart the
// streams of a topic come back together, most with the topic's last id,
// and one read of Redis (and one decoding and encoding of its events)
// serves them all. A subscription joins a read only before it is sent:
// its subscription was registered before, so every event after the read
// reaches it live (and one in both is dropped by the floors).
type resumeReads struct {
	slots chan struct{} // capacity maxBacklogReads: a token per read in flight

	mu      sync.Mutex             // taken before b.mu, never after
	waiting map[string]*resumeRead // reads not sent yet, by resumeKey
	// The error of the last read that completed, and when, unless Redis
	// answered it: a read that queued before it is answered with it
	// rather than sent, so that when Redis stops answering the queue
	// fails within the timeout, not one timeout per maxBacklogReads reads.
	failed   error
	failedAt time.Time
}

// resumeRead is one read of a backlog, shared by every subscription that
// joined it before it was sent. Its result is read-only.
type resumeRead struct {
	queued time.Time     // when it was asked for
	done   chan struct{} // closed once the fields below are set
	bl     sse.Backlog
	floors map[string]streamid.ID
	err    error
}

// resumeKey identifies the backlog of topics after lastID.
func resumeKey(topics []string, lastID string) string {
	return lastID + "\x00" + strings.Join(topics, "\x00")
}

// resume returns the backlog of topics after lastID and where each
// topic's live events begin (see readBacklog), from a read that it shares
// with any other subscription asking for the same before it is sent. The
// result is shared: it must not be modified.
func (b *Broker) resume(ctx context.Context, topics []string, lastID string) (sse.Backlog, map[string]streamid.ID, error) {
	r := &b.reads
	key := resumeKey(topics, lastID)
	r.mu.Lock()
	rd := r.waiting[key]
	if rd == nil {
		// The broker owns the read, not this caller: the others that
		// join it must get its result even if this caller gives up.
		// Counted under b.mu, so that Close waits for it or it never
		// starts.
		b.mu.Lock()
		closed := b.closed
		if !closed {
			b.wg.Add(1)
		}
		b.mu.Unlock()
		if closed {
			r.mu.Unlock()
			return sse.Backlog{}, nil, sse.ErrBrokerClosed
		}
		rd = &resumeRead{queued: time.Now(), done: make(chan struct{})}
		if r.waiting == nil {
			r.waiting = make(map[string]*resumeRead)
		}
		r.waiting[key] = rd
		go b.readShared(key, rd, topics, lastID)
	}
	r.mu.Unlock()
	select {
	case <-rd.done:
		return rd.bl, rd.floors, rd.err
	case <-ctx.Done():
		return sse.Backlog{}, nil, ctx.Err()
	}
}

// readShared waits for a slot, then closes rd to joiners and reads it,
// unless the broker closed or a read queued after rd failed meanwhile.
func (b *Broker) readShared(key string, rd *resumeRead, topics []string, lastID string) {
	defer b.wg.Done()
	defer close(rd.done)
	r := &b.reads
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-b.ctx.Done():
	}
	r.mu.Lock()
	if r.waiting[key] == rd {
		delete(r.waiting, key)
	}
	failed := r.failed
	if failed != nil && !rd.queued.Before(r.failedAt) {
		failed = nil // it failed before rd was asked for
	}
	r.mu.Unlock()
	switch {
	case b.ctx.Err() != nil:
		rd.err = sse.ErrBrokerClosed
		return
	case failed != nil:
		rd.err = failed
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
	defer cancel()
	rd.bl, rd.floors, rd.err = b.readBacklog(ctx, topics, lastID)
	r.mu.Lock()
	if _, answered := rueidis.IsRedisErr(rd.err); answered {
		r.failed = nil // Redis answers: an error of this read only
	} else {
		r.failed, r.failedAt = rd.err, time.Now()
	}
	r.mu.Unlock()
}
