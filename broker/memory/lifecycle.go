package memory

import (
	"context"
	"errors"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// janitor drops expired history every memJanitorInterval, and keeps the
// data directory within its bound, then and whenever a segment starts.
func (b *Broker) janitor() {
	defer b.wg.Done()
	tick := time.NewTicker(memJanitorInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.rotated:
			b.maintainLog()
		case <-tick.C:
			b.sweep(b.now())
			if b.log != nil {
				b.maintainLog()
			}
		}
	}
}

// sweep drops expired history and forgets idle topics, one shard at a
// time.
func (b *Broker) sweep(now time.Time) {
	b.idemMu.Lock()
	b.idem.expire(now, b.opts.HistoryAge)
	b.idemMu.Unlock()
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for _, t := range sh.topics {
			b.trim(t, now)
			sh.forgetIfIdle(t, b.hash(t.name))
		}
		sh.mu.Unlock()
	}
}

// Ready implements sse.Broker: the embedded broker is ready until closed.
func (b *Broker) Ready(context.Context) error {
	if b.closed.Load() {
		return sse.ErrBrokerClosed
	}
	return nil
}

// Close implements sse.Broker.
func (b *Broker) Close() error {
	// The presence store first: it may write its members to the data
	// directory.
	perr := b.closePresence()
	// With every shard locked, no publish or subscribe is under way: those
	// that come after see closed, and every subscription made before is
	// in subs.
	for i := range b.shards {
		b.shards[i].mu.Lock()
	}
	already := b.closed.Swap(true)
	var subs []*memSub
	if !already {
		for i := range b.shards {
			for _, t := range b.shards[i].topics {
				for s := range t.subs {
					subs = append(subs, s)
				}
				for s := range t.cross {
					subs = append(subs, s)
				}
			}
		}
	}
	for i := range b.shards {
		b.shards[i].mu.Unlock()
	}
	if already {
		return perr
	}
	close(b.stop)
	for _, s := range subs {
		s.end(sse.ErrBrokerClosed)
	}
	b.wg.Wait()
	if b.log != nil {
		return errors.Join(perr, b.log.Close())
	}
	b.mu.Lock()
	last := b.last
	b.mu.Unlock()
	// A broker made after Close returns starts its ids in a later
	// millisecond than any of ours.
	for uint64(time.Now().UnixMilli()) <= last.Ms {
		time.Sleep(time.Until(time.UnixMilli(int64(last.Ms) + 1)))
	}
	return perr
}

// TopicCount returns the number of topics with subscribers or history.
func (b *Broker) TopicCount() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += len(sh.topics)
		sh.mu.Unlock()
	}
	return n
}
