package redis

import (
	"context"
	"fmt"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// syncTopic catches t up after its channel was subscribed: from its
// stream, every event after the last one delivered locally (none on the
// first sync, which only learns where the stream is and which dataset it
// belongs to), then the live events that arrived meanwhile.
//
// When the dataset is not the one t followed (Redis restarted without its
// data, was flushed, or failed over to a replica that lost writes), events
// acknowledged to their publishers may be gone: t's subscriptions end so
// their clients resume and are told to resync. When Redis has not even the
// events this instance delivered, the dataset first gets a new identity
// past them, so that no later id is mistaken for an old one.
func (b *Broker) syncTopic(ctx context.Context, t *topic) error {
	b.mu.Lock()
	first, start, delivered, genesis := !t.isReady, "("+t.last.String(), t.last, t.genesis
	b.mu.Unlock()
	if first {
		start = "+"
	}
	st, err := b.readState(ctx, t, start)
	if err != nil {
		b.opts.Observer.BrokerError()
		return fmt.Errorf("sync topic %q: %w", t.name, err)
	}
	ss := st.streams[0]
	changed := false
	switch {
	case first && !st.hasGen:
		g, err := ensureDatasetScript.Exec(ctx, b.client, []string{b.counter}, nil).ToString()
		if err != nil {
			return fmt.Errorf("sync topic %q: dataset identity: %w", t.name, err)
		}
		st.genesis, _ = streamid.Parse(g)
	case first:
	case !st.hasGen || b.lostWrites(st, ss, delivered):
		changed = true
		b.log.Warn("redis lost events this instance delivered (restart without data, flush or failover); clients will resync",
			"topic", t.name, "last_delivered", delivered.String())
		g, err := newDatasetScript.Exec(ctx, b.client, []string{b.counter}, []string{delivered.String()}).ToString()
		if err != nil {
			return fmt.Errorf("sync topic %q: new dataset identity: %w", t.name, err)
		}
		st.genesis, _ = streamid.Parse(g)
	case st.genesis != genesis:
		changed = true
		b.log.Warn("redis holds another dataset than before (restart without data, flush or failover); clients will resync", "topic", t.name)
	}
	endErr := fmt.Errorf("%w: events of topic %q may have been lost by Redis or trimmed from history while it was unreachable", sse.ErrUnavailable, t.name)
	var ended []*subscription
	defer func() {
		for _, s := range ended {
			s.end(endErr)
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	t.genesis = st.genesis
	if first {
		t.last = ss.last
		// On one node the id record and the streams are written by one
		// script, so every id up to the record's is in its stream or was
		// never this topic's. On a cluster the record runs ahead: a
		// publisher takes its id there before writing the topic's shard,
		// so an event in flight may have an id below the record's that
		// this topic has yet to receive.
		if !b.cfg.Cluster && st.hasCtr && t.last.Less(st.counter) {
			t.last = st.counter
		}
	} else if changed || t.last.Less(ss.maxDeleted) {
		// Redis lost events, or more was published while we were away
		// than the history holds: end the subscriptions so clients
		// resume and are told to resync.
		if !changed {
			b.log.Warn("redis history lost during an outage", "topic", t.name)
		}
		for s := range t.subs {
			// Ended now, under b.mu: not one event more reaches them, so
			// their clients resume from the position they had, which the
			// resync covers.
			s.q.Fail(endErr)
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

// readState reads t's stream from start and the id record: in one script
// on a single node; on a cluster, the record after the stream.
func (b *Broker) readState(ctx context.Context, t *topic, start string) (state, error) {
	if !b.cfg.Cluster {
		return parseState(stateScript.Exec(ctx, b.client, []string{b.counter, t.key}, []string{start, "1"}), []string{t.name})
	}
	st, err := parseState(stateScript.Exec(ctx, b.client, []string{t.key}, []string{start, "0"}), []string{t.name})
	if err != nil {
		return state{}, err
	}
	return st, b.readRecord(ctx, &st)
}

// readRecord reads the id record's newest id and genesis into st (on a
// cluster, where it lives on another shard than the streams).
func (b *Broker) readRecord(ctx context.Context, st *state) error {
	rec, err := b.client.Do(ctx, b.client.B().Hmget().Key(b.counter).Field("last", "genesis").Build()).ToArray()
	if err == nil && len(rec) != 2 {
		err = errShortReply
	}
	if err != nil {
		return err
	}
	if c, err := rec[0].ToString(); err == nil {
		st.counter, _ = streamid.Parse(c)
		st.hasCtr = true
	}
	if g, err := rec[1].ToString(); err == nil {
		st.genesis, _ = streamid.Parse(g)
		st.hasGen = true
	}
	return nil
}

// lostWrites reports whether Redis no longer has the event delivered, the
// newest this instance delivered on the stream of ss. On a single node the
// id record tells (it issued every id); on a cluster, the stream itself
// (its last id, or the last id of a stream that expired as a whole).
func (b *Broker) lostWrites(st state, ss streamState, delivered streamid.ID) bool {
	if delivered.IsZero() {
		return false
	}
	if !b.cfg.Cluster {
		return !st.hasCtr || st.counter.Less(delivered)
	}
	top := ss.last
	if !ss.exists {
		top = ss.maxDeleted
	}
	return top.Less(delivered)
}
