package redis

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// syncFrom is where a sync of a topic starts: what the topic had seen
// when its sync was read.
type syncFrom struct {
	first     bool        // never synced: learn where its stream is
	delivered streamid.ID // the newest event delivered locally
	genesis   streamid.ID // the dataset it followed
}

// syncTopics syncs ts (see syncTopic) with one read of their streams: a
// round trip for all of them on a single node, a pipeline of one per
// topic on a cluster.
func (b *Broker) syncTopics(ctx context.Context, ts []*topic) error {
	from := make([]syncFrom, len(ts))
	b.mu.Lock()
	for i, t := range ts {
		from[i] = syncFrom{first: !t.isReady, delivered: t.last, genesis: t.genesis}
	}
	b.mu.Unlock()
	sts, err := b.readSyncStates(ctx, ts, from)
	if err != nil {
		b.opts.Observer.BrokerError()
		return fmt.Errorf("sync %d topics: %w", len(ts), err)
	}
	var genesis string // of a dataset started by this batch
	ensure := func() (string, error) {
		if genesis != "" {
			return genesis, nil
		}
		g, err := ensureDatasetScript.Exec(ctx, b.client, []string{b.counter}, nil).ToString()
		genesis = g
		return g, err
	}
	for i, t := range ts {
		if err := b.syncTopic(ctx, t, from[i], sts[i], ensure); err != nil {
			return err
		}
	}
	return nil
}

// readSyncStates reads the state of each of ts from where from says its
// sync starts, and the id record: in one script on a single node; on a
// cluster, one script per topic on its shard, then the record.
func (b *Broker) readSyncStates(ctx context.Context, ts []*topic, from []syncFrom) ([]state, error) {
	starts := make([]string, len(ts))
	for i, f := range from {
		starts[i] = "(" + f.delivered.String()
		if f.first {
			starts[i] = "+"
		}
	}
	sts := make([]state, len(ts))
	if !b.cfg.Cluster {
		keys := make([]string, 0, len(ts)+1)
		keys = append(keys, b.counter)
		names := make([]string, 0, len(ts))
		for _, t := range ts {
			keys = append(keys, t.key)
			names = append(names, t.name)
		}
		st, err := parseState(stateScript.Exec(ctx, b.client, keys, append([]string{"+", "1"}, starts...)), names)
		if err != nil {
			return nil, err
		}
		for i := range sts {
			sts[i] = st
			sts[i].streams = st.streams[i : i+1 : i+1]
		}
		return sts, nil
	}
	execs := make([]rueidis.LuaExec, len(ts))
	for i, t := range ts {
		execs[i] = rueidis.LuaExec{Keys: []string{t.key}, Args: []string{starts[i], "0"}}
	}
	for i, res := range stateScript.ExecMulti(ctx, b.client, execs...) {
		st, err := parseState(res, []string{ts[i].name})
		if err != nil {
			return nil, err
		}
		sts[i] = st
	}
	// Read after the streams: every id in them is at or before it.
	var rec state
	if err := b.readRecord(ctx, &rec); err != nil {
		return nil, err
	}
	for i := range sts {
		sts[i].counter, sts[i].hasCtr, sts[i].genesis, sts[i].hasGen = rec.counter, rec.hasCtr, rec.genesis, rec.hasGen
	}
	return sts, nil
}

// syncTopic catches t up after its channel was subscribed, from st, its
// state read from where from says: every event after the last one
// delivered locally (none on the first sync, which only learns where the
// stream is and which dataset it belongs to), then the live events that
// arrived meanwhile. ensure starts a dataset when Redis has none.
//
// When the dataset is not the one t followed (Redis restarted without its
// data, was flushed, or failed over to a replica that lost writes), events
// acknowledged to their publishers may be gone: t's subscriptions end so
// their clients resume and are told to resync. When Redis has not even the
// events this instance delivered, the dataset first gets a new identity
// past them, so that no later id is mistaken for an old one.
func (b *Broker) syncTopic(ctx context.Context, t *topic, from syncFrom, st state, ensure func() (string, error)) error {
	first, delivered, genesis := from.first, from.delivered, from.genesis
	ss := st.streams[0]
	changed := false
	switch {
	case first && !st.hasGen:
		g, err := ensure()
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
