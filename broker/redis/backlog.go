package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/sse"
)

// readBacklog reads the events after lastID on topics and where each
// topic's live events begin (the floors), atomically on a single node.
func (b *Broker) readBacklog(ctx context.Context, topics []string, lastID string) (sse.Backlog, map[string]streamid.ID, error) {
	last, perr := streamid.Parse(lastID)
	start := "(" + last.String()
	if perr != nil {
		start = "+"
	}
	sts, err := b.readStates(ctx, topics, start)
	if err != nil {
		return sse.Backlog{}, nil, err
	}
	var streams []streamState
	for _, st := range sts {
		streams = append(streams, st.streams...)
	}
	floors := make(map[string]streamid.ID, len(topics))
	var cursor streamid.ID
	for i, t := range topics {
		f := streams[i].last
		if !b.cfg.Cluster {
			f = sts[0].counter
		}
		floors[t] = f
		if cursor.Less(f) {
			cursor = f
		}
	}
	var bl sse.Backlog
	if !cursor.IsZero() {
		bl.Cursor = cursor.String()
	}
	nowMs := uint64(sts[0].now.UnixMilli())
	unknown := perr != nil || last.Ms > nowMs+uint64(time.Second.Milliseconds())
	if !sts[0].hasCtr || sts[0].counter.Less(last) || !sts[0].hasGen || last.Less(sts[0].genesis) {
		// Not issued by this dataset: never issued here, or issued by a
		// dataset that is gone (a restart without persistence, FLUSHALL,
		// a failover that lost writes). Only a refetch is safe.
		unknown = true
	}
	if unknown {
		genesis, err := b.genesis(ctx, sts[0])
		if err != nil {
			return sse.Backlog{}, nil, err
		}
		if bl.Cursor == "" {
			// Nothing issued yet by the dataset but its genesis: resuming
			// from it is resuming from now.
			bl.Cursor = genesis
		}
		bl.Resync = sse.ResyncAll(topics, genesis)
		return bl, floors, nil
	}
	b.history(&bl, topics, streams, last, nowMs)
	return bl, floors, nil
}

// genesis returns the first id of the dataset Redis holds, as st read it;
// when it has none yet (Redis lost its data and nothing was published
// since), it starts one, as the first subscriber of a topic does, so that
// a resync can name it.
func (b *Broker) genesis(ctx context.Context, st state) (string, error) {
	if st.hasGen {
		return st.genesis.String(), nil
	}
	g, err := ensureDatasetScript.Exec(ctx, b.client, []string{b.counter}, nil).ToString()
	if err != nil {
		return "", fmt.Errorf("dataset identity: %w", err)
	}
	return g, nil
}

// readStates reads the state of topics' streams from start on: with the
// dataset's counter and genesis, in one script on a single node; stream by
// stream on a cluster, then the record of the dataset.
func (b *Broker) readStates(ctx context.Context, topics []string, start string) ([]state, error) {
	if !b.cfg.Cluster {
		keys := make([]string, 0, len(topics)+1)
		keys = append(keys, b.counter)
		for _, t := range topics {
			keys = append(keys, streamKey(b.channel(t)))
		}
		st, err := parseState(stateScript.Exec(ctx, b.client, keys, []string{start, "1"}), topics)
		if err != nil {
			return nil, err
		}
		return []state{st}, nil
	}
	sts := make([]state, 0, len(topics))
	for _, t := range topics {
		st, err := parseState(stateScript.Exec(ctx, b.client, []string{streamKey(b.channel(t))}, []string{start, "0"}), []string{t})
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	// Read after the streams: every id in them is at or before it.
	if err := b.readRecord(ctx, &sts[0]); err != nil {
		return nil, err
	}
	return sts, nil
}

// history adds to bl the events of streams (one per topic) after last
// that are younger than HistoryAge at nowMs, merged in id order, and the
// topics whose events after last are no longer all there to Resync.
func (b *Broker) history(bl *sse.Backlog, topics []string, streams []streamState, last streamid.ID, nowMs uint64) {
	ageMs := uint64(b.opts.HistoryAge.Milliseconds())
	var cutoff uint64
	if nowMs > ageMs {
		cutoff = nowMs - ageMs
	}
	var lists [][]delivery
	for i, t := range topics {
		ss := streams[i]
		if !ss.exists {
			// The stream expired (maxDeleted is its last id), or it never
			// existed, or even its record is gone: then whatever came after
			// an id older than HistoryAge has expired.
			if last.Less(ss.maxDeleted) || ss.maxDeleted.IsZero() && last.Ms < cutoff {
				bl.Resync = append(bl.Resync, sse.Resync{Topic: t, Reason: sse.ResyncHistoryExceeded})
			}
			continue
		}
		trimmed := ss.maxDeleted
		var keep []delivery
		for _, d := range ss.entries {
			if d.id.Ms < cutoff {
				if trimmed.Less(d.id) {
					trimmed = d.id
				}
				continue
			}
			keep = append(keep, d)
		}
		if last.Less(trimmed) {
			// Entries were read from last on: the first kept is the
			// oldest the stream holds.
			r := sse.Resync{Topic: t, Reason: sse.ResyncHistoryExceeded}
			if len(keep) > 0 {
				r.Oldest = keep[0].ev.ID
			}
			bl.Resync = append(bl.Resync, r)
		}
		lists = append(lists, keep)
	}
	// The copies of a multi-topic event share its mid: on a cluster they
	// may have different ids, and distinct events on different shards may
	// share one.
	for d := range streamid.Merge(lists, deliveryID, copyKey) {
		bl.Events = append(bl.Events, d.ev)
	}
}
