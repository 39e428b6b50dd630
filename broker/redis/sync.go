package redis

import (
	"context"
	"fmt"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/streamid"
)

// syncTopic catches t up after its channel was subscribed: from its
// stream, every event after the last one delivered locally (none on the
// first sync, which only learns where the stream is), then the live
// events that arrived meanwhile.
//
// When Redis no longer has what this instance delivered (it restarted
// without its data, or failed over to a replica that lost writes), events
// acknowledged to their publishers may be gone too: the dataset gets a new
// identity past everything delivered, so that no later id is mistaken for
// an old one and every id issued before yields a resync, and t's
// subscriptions end so their clients resume and are told to resync.
func (b *Broker) syncTopic(ctx context.Context, t *topic) error {
	b.mu.Lock()
	first, start, delivered := !t.isReady, "("+t.last.String(), t.last
	b.mu.Unlock()
	if first {
		start = "+"
	}
	keys, single := []string{t.key}, "0"
	if !b.cfg.Cluster {
		keys, single = []string{b.counter, t.key}, "1"
	}
	st, err := parseState(stateScript.Exec(ctx, b.client, keys, []string{start, single}), []string{t.name})
	if err != nil {
		if m := b.opts.Metrics; m != nil {
			m.ObserveBrokerError()
		}
		return fmt.Errorf("sync topic %q: %w", t.name, err)
	}
	ss := st.streams[0]
	lost := !first && !delivered.IsZero() && b.lostWrites(st, ss, delivered)
	if lost {
		b.log.Warn("redis lost events this instance delivered (restart without data, or failover); clients will resync",
			"topic", t.name, "last_delivered", delivered.String())
		if err := newDatasetScript.Exec(ctx, b.client, []string{b.counter}, []string{delivered.String()}).Error(); err != nil {
			return fmt.Errorf("sync topic %q: new dataset identity: %w", t.name, err)
		}
	}
	var ended []*subscription
	defer func() {
		for _, s := range ended {
			s.end(fmt.Errorf("%w: events of topic %q may have been lost by Redis or trimmed from history while it was unreachable", ssevents.ErrUnavailable, t.name))
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	if first {
		t.last = ss.last
		if st.hasCtr && t.last.Less(st.counter) {
			t.last = st.counter
		}
	} else if lost || t.last.Less(ss.maxDeleted) {
		// More was published while we were away than the history holds,
		// or Redis lost events: end the subscriptions so clients resume
		// and are told to resync.
		if !lost {
			b.log.Warn("redis history lost during an outage", "topic", t.name)
		}
		for s := range t.subs {
			ended = append(ended, s)
		}
	}
	for _, d := range ss.entries {
		b.deliverLocked(t, d)
	}
	for _, d := range t.pending {
		b.deliverLocked(t, d)
	}
	t.pending, t.synced = nil, true
	if !t.isReady {
		t.isReady = true
		close(t.ready)
	}
	return nil
}

// lostWrites reports whether Redis no longer has the event delivered, the
// newest this instance delivered on the stream of ss. On a single node the
// id record tells (it issued every id); on a cluster, the stream itself
// (its last id, or the last id of a stream that expired as a whole).
func (b *Broker) lostWrites(st state, ss streamState, delivered streamid.ID) bool {
	if !b.cfg.Cluster {
		return !st.hasGen || !st.hasCtr || st.counter.Less(delivered)
	}
	top := ss.last
	if !ss.exists {
		top = ss.maxDeleted
	}
	return top.Less(delivered)
}
