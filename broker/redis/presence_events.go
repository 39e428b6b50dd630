package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/sse"
)

// readLoop follows the events stream from last (its end when the store
// opened; "" when Redis could not tell, then from its end once it can),
// and calls the Watch functions with every join and leave, in the
// stream's order. After a disconnect it resumes from the last id read.
func (s *presenceStore) readLoop(last string) {
	defer s.wg.Done()
	c := s.b.client
	fails := 0
	order := newSequencer(presenceHold)
	for s.ctx.Err() == nil {
		var err error
		if last == "" {
			last, err = s.streamEnd()
		} else {
			var streams map[string][]rueidis.XRangeEntry
			streams, err = c.Do(s.ctx, c.B().Xread().Count(1000).Block(presenceBlock.Milliseconds()).
				Streams().Key(s.stream).Id(last).Build()).AsXRead()
			if rueidis.IsRedisNil(err) {
				err = nil // nothing within the block time
			}
			now := time.Now()
			for _, e := range streams[s.stream] {
				last = e.ID
				if ev, seq, ok := decodePresence(e); ok {
					s.deliver(order.push(ev, seq, now))
				}
			}
			s.deliver(order.expire(now))
		}
		if err == nil {
			fails = 0
			continue
		}
		s.fail(fmt.Errorf("ssevents/redis: read presence events: %w", err))
		fails++
		if !s.sleep(backoff(fails)) {
			return
		}
	}
}

// streamEnd returns the id of the stream's newest entry ("0-0" when it is
// empty): where reading starts.
func (s *presenceStore) streamEnd() (string, error) {
	c := s.b.client
	ctx, cancel := context.WithTimeout(s.ctx, s.b.cfg.Timeout)
	defer cancel()
	es, err := c.Do(ctx, c.B().Xrevrange().Key(s.stream).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil {
		return "", err
	}
	if len(es) == 0 {
		return "0-0", nil
	}
	return es[0].ID, nil
}

// deliver calls the Watch functions with evs, in order. A leave announced after this
// instance last set the user's entry unconfirms the entry: it was reaped,
// so its next assert is a join (see luaPresence).
func (s *presenceStore) deliver(evs []sse.PresenceEvent) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	for _, ev := range evs {
		if ev.Type != sse.EventLeave {
			continue
		}
		if e := s.entries[entryKey{ev.Topic, ev.User}]; e != nil && ev.Time.UnixMilli() >= e.setMs {
			e.confirmed = false
		}
	}
	fns := s.watchers
	s.mu.Unlock()
	for _, ev := range evs {
		for _, fn := range fns {
			fn(ev)
		}
	}
}

// decodePresence reads a join or leave from a stream entry, with its
// number in its topic's sequence; the entry's id is the event's.
func decodePresence(e rueidis.XRangeEntry) (ev sse.PresenceEvent, seq int64, ok bool) {
	f := e.FieldValues
	ev = sse.PresenceEvent{ID: e.ID, Type: f["t"], Topic: f["topic"], User: f["u"]}
	if ev.Type != sse.EventJoin && ev.Type != sse.EventLeave {
		return ev, 0, false
	}
	seq, _ = strconv.ParseInt(f["s"], 10, 64)
	if f["i"] != "" {
		ev.Info = json.RawMessage(f["i"])
	}
	conns, _ := strconv.Atoi(f["c"])
	ev.Connections = max(conns, 0)
	ms, _ := strconv.ParseInt(f["ms"], 10, 64)
	ev.Time = time.UnixMilli(ms)
	return ev, seq, true
}

// Snapshot implements sse.PresenceStore with one read-only script: HLEN
// and GET for the counts, HSCAN for up to limit members.
func (s *presenceStore) Snapshot(ctx context.Context, topic string, limit int) (sse.PresenceSnapshot, error) {
	snap := sse.PresenceSnapshot{Topic: topic, Members: []sse.PresenceMember{}}
	rctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	keys := s.keys(topic)[:4]
	arr, err := presenceSnapshotScript.Exec(rctx, s.b.client, keys, []string{strconv.Itoa(max(limit, 0))}).ToArray()
	if err == nil && len(arr) < 2 {
		err = errShortReply
	}
	if err != nil {
		if ctx.Err() != nil {
			return snap, ctx.Err()
		}
		s.opts.OnError(err)
		return snap, fmt.Errorf("%w: redis presence snapshot: %v", sse.ErrUnavailable, err)
	}
	users, _ := arr[0].AsInt64()
	conns, _ := arr[1].AsInt64()
	snap.Users, snap.Connections = int(users), int(max(conns, 0))
	for i := 2; i+2 < len(arr); i += 3 {
		m := sse.PresenceMember{}
		m.User, _ = arr[i].ToString()
		n, _ := arr[i+1].AsInt64()
		m.Connections = int(max(n, 0))
		if info, _ := arr[i+2].ToString(); info != "" {
			m.Info = json.RawMessage(info)
		}
		snap.Members = append(snap.Members, m)
	}
	return snap, nil
}

// Next implements sse.PresenceStore: changes idle unacked for claimIdle
// (their consumer died or did not ack) first, then new ones, from the
// outbox's consumer group.
func (s *presenceStore) Next(ctx context.Context, limit int) ([]sse.PresenceEvent, error) {
	if !s.opts.Outbox {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	limit = max(limit, 1)
	c := s.b.client
	for fails := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.ctx.Err() != nil {
			return nil, sse.ErrBrokerClosed
		}
		s.pruneConsumers(ctx)
		evs, err := s.claim(ctx, limit)
		if err == nil && len(evs) == 0 {
			var streams map[string][]rueidis.XRangeEntry
			streams, err = c.Do(ctx, c.B().Xreadgroup().Group(presenceGroup, s.id).Count(int64(limit)).
				Block(presenceBlock.Milliseconds()).Streams().Key(s.stream).Id(">").Build()).AsXRead()
			if rueidis.IsRedisNil(err) {
				err = nil
			}
			evs = decodeAll(streams[s.stream])
		}
		if err != nil && strings.Contains(err.Error(), "NOGROUP") {
			// Redis lost the group (a restart): what the stream holds now
			// came after, so the new group starts at its beginning.
			err = s.createGroup(ctx, "0")
		}
		if len(evs) > 0 {
			return evs, nil
		}
		if err != nil && ctx.Err() == nil {
			s.opts.OnError(err)
			fails++
			t := time.NewTimer(backoff(fails))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// claim takes over up to limit changes handed out at least claimIdle ago
// and never acked.
func (s *presenceStore) claim(ctx context.Context, limit int) ([]sse.PresenceEvent, error) {
	c := s.b.client
	arr, err := c.Do(ctx, c.B().Xautoclaim().Key(s.stream).Group(presenceGroup).Consumer(s.id).
		MinIdleTime(strconv.FormatInt(s.claimIdle.Milliseconds(), 10)).Start("0-0").Count(int64(limit)).Build()).ToArray()
	if err != nil {
		return nil, err
	}
	if len(arr) < 2 {
		return nil, errShortReply
	}
	es, err := arr[1].AsXRange()
	if err != nil {
		return nil, err
	}
	return decodeAll(es), nil
}

func decodeAll(es []rueidis.XRangeEntry) []sse.PresenceEvent {
	var evs []sse.PresenceEvent
	for _, e := range es {
		if ev, _, ok := decodePresence(e); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

// pruneConsumers removes, at most every presencePruneEvery, the outbox
// consumers that hold nothing and were idle for presenceConsumerIdle:
// every process that ever used the outbox left one (their names are
// random), and a live one is recreated by its next read.
func (s *presenceStore) pruneConsumers(ctx context.Context) {
	s.mu.Lock()
	due := time.Since(s.pruned) >= s.pruneEvery
	if due {
		s.pruned = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return
	}
	c := s.b.client
	consumers, err := c.Do(ctx, c.B().XinfoConsumers().Key(s.stream).Group(presenceGroup).Build()).ToArray()
	if err != nil {
		return // NOGROUP, or Redis away: Next finds out
	}
	var cmds rueidis.Commands
	for _, v := range consumers {
		m, err := v.AsMap()
		if err != nil {
			continue
		}
		f := func(k string) *rueidis.RedisMessage { v := m[k]; return &v }
		name, _ := f("name").ToString()
		pending, _ := f("pending").AsInt64()
		idle, _ := f("idle").AsInt64()
		if name != s.id && pending == 0 && time.Duration(idle)*time.Millisecond >= s.consumerIdle {
			cmds = append(cmds, c.B().XgroupDelconsumer().Key(s.stream).Group(presenceGroup).Consumername(name).Build())
		}
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			s.opts.OnError(err)
			return
		}
	}
}

// createGroup creates the outbox's consumer group at id (and the stream);
// a group that exists already is no error.
func (s *presenceStore) createGroup(ctx context.Context, id string) error {
	c := s.b.client
	err := c.Do(ctx, c.B().XgroupCreate().Key(s.stream).Group(presenceGroup).Id(id).Mkstream().Build()).Error()
	if err != nil && strings.Contains(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

// Ack implements sse.PresenceStore (XACK).
func (s *presenceStore) Ack(ctx context.Context, events []sse.PresenceEvent) error {
	if len(events) == 0 || !s.opts.Outbox {
		return nil
	}
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	c := s.b.client
	rctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	if err := c.Do(rctx, c.B().Xack().Key(s.stream).Group(presenceGroup).Id(ids...).Build()).Error(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.opts.OnError(err)
		return fmt.Errorf("%w: redis presence ack: %v", sse.ErrUnavailable, err)
	}
	return nil
}
