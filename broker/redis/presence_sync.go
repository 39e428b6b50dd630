package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// setItem is one dirty entry as a sync sends it.
type setItem struct {
	k         entryKey
	count     int
	confirmed bool
	added     bool
	gen       uint64
}

// syncLoop writes dirty entries when Add or Remove wakes it, and
// re-asserts every entry every TTL/3 (after a Redis restart that lost
// them, they are back within one refresh). A failed sync is retried after
// a backoff.
func (s *presenceStore) syncLoop() {
	defer s.wg.Done()
	refresh := time.NewTicker(s.opts.TTL / 3)
	defer refresh.Stop()
	fails := 0
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-refresh.C:
			s.markAll()
		}
		err := s.flush(s.ctx)
		if perr := s.publishPending(s.ctx); err == nil {
			err = perr
		}
		if err == nil {
			fails = 0
			continue
		}
		s.fail(err)
		fails++
		if !s.sleep(backoff(fails)) {
			return
		}
		s.poke()
	}
}

// markAll marks every entry of this instance dirty: a full re-assert.
func (s *presenceStore) markAll() {
	s.mu.Lock()
	for k := range s.entries {
		s.dirty[k] = struct{}{}
	}
	s.mu.Unlock()
}

// flush sends the dirty entries, per topic, in pipelined script calls of up
// to presenceBatch entries. Entries of a failed call are dirty again.
func (s *presenceStore) flush(ctx context.Context) error {
	now := time.Now()
	var (
		chunks [][]setItem
		execs  []rueidis.LuaExec
		open   = map[string]int{} // topic -> its chunk still taking entries
	)
	keyTTL := strconv.FormatInt((2 * (s.opts.TTL + s.keep)).Milliseconds(), 10)
	s.mu.Lock()
	for k := range s.dirty {
		e := s.entries[k]
		if e == nil {
			continue
		}
		// An entry with streams expires a reaper pass short of the TTL, so
		// that the members of an instance that died leave within the TTL
		// of its last refresh, reaper included.
		ttl := max(s.opts.TTL-s.reapEvery, s.opts.TTL/2)
		if e.count == 0 {
			ttl = max(e.graceUntil.Sub(now), time.Millisecond)
		}
		i, ok := open[k.topic]
		if !ok || len(chunks[i]) == presenceBatch {
			i = len(chunks)
			open[k.topic] = i
			chunks = append(chunks, nil)
			execs = append(execs, rueidis.LuaExec{Keys: s.keys(k.topic),
				Args: []string{k.topic, strconv.Itoa(presenceStreamLen), keyTTL}})
		}
		confirmed := "0"
		switch {
		case e.confirmed:
			confirmed = "1"
		case e.added:
			confirmed = "2" // added and gone since the last set: create it anyway
		}
		chunks[i] = append(chunks[i], setItem{k: k, count: e.count, confirmed: e.confirmed, added: e.added, gen: e.gen})
		execs[i].Args = append(execs[i].Args, s.id+"|"+k.user, k.user, strconv.Itoa(e.count),
			strconv.FormatInt(expiryMs(ttl), 10), string(e.info), confirmed)
	}
	clear(s.dirty)
	s.mu.Unlock()
	if len(execs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	var errs []error
	var index rueidis.Commands
	for i, res := range presenceSetScript.execMulti(ctx, s.b.client, execs) {
		nowMs, first, changes, err := parseChanges(res, chunks[i][0].k.topic)
		if err != nil {
			errs = append(errs, err)
			s.remark(chunks[i])
			continue
		}
		s.settle(chunks[i], nowMs, now)
		if s.b.cfg.Cluster {
			s.queue(changes)
			if first > 0 {
				index = append(index, s.b.client.B().Zadd().Key(s.index).Lt().ScoreMember().
					ScoreMember(float64(first), chunks[i][0].k.topic).Build())
			}
		}
	}
	for _, r := range s.b.client.DoMulti(ctx, index...) {
		if err := r.Error(); err != nil {
			errs = append(errs, err) // the next refresh sets the index again
			break
		}
	}
	return errors.Join(errs...)
}

// expiryMs is ttl in whole milliseconds for the set script, rounded up and
// one more: the script adds it to the server's time cut to the
// millisecond, and an entry must never expire before its grace period
// (or TTL) has passed.
func expiryMs(ttl time.Duration) int64 {
	return int64((ttl+time.Millisecond-1)/time.Millisecond) + 1
}

// remark marks the entries of a failed call dirty again.
func (s *presenceStore) remark(items []setItem) {
	s.mu.Lock()
	for _, it := range items {
		if s.entries[it.k] != nil {
			s.dirty[it.k] = struct{}{}
		}
	}
	s.mu.Unlock()
}

// settle records a successful set: the entries are confirmed (those Redis
// now holds), and an entry without streams past its grace period is
// forgotten (the reaper ends it in Redis).
func (s *presenceStore) settle(items []setItem, nowMs int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		e := s.entries[it.k]
		if e == nil {
			continue
		}
		if it.count > 0 || it.confirmed || it.added {
			e.confirmed = true
		}
		if e.gen == it.gen {
			e.added = false
		}
		e.setMs = nowMs
		if e.count == 0 && e.gen == it.gen && !e.graceUntil.After(now) {
			delete(s.entries, it.k)
		}
	}
}

// parseChanges reads a set or reap script's reply: the server time, the
// topic's first expiry and the joins and leaves (cluster).
func parseChanges(res rueidis.RedisResult, topic string) (nowMs, first int64, changes []presenceChange, err error) {
	arr, err := res.ToArray()
	if err != nil {
		return 0, 0, nil, err
	}
	if len(arr) < 2 {
		return 0, 0, nil, errShortReply
	}
	nowMs, _ = arr[0].AsInt64()
	first, _ = arr[1].AsInt64()
	for _, v := range arr[2:] {
		f, err := v.ToArray()
		if err != nil || len(f) < 6 {
			return 0, 0, nil, errShortReply
		}
		c := presenceChange{topic: topic}
		c.kind, _ = f[0].ToString()
		c.user, _ = f[1].ToString()
		c.info, _ = f[2].ToString()
		c.conns, _ = f[3].AsInt64()
		c.ms, _ = f[4].AsInt64()
		c.seq, _ = f[5].AsInt64()
		changes = append(changes, c)
	}
	return nowMs, first, changes, nil
}

// queue keeps changes for publishPending (cluster).
func (s *presenceStore) queue(changes []presenceChange) {
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, changes...)
	s.mu.Unlock()
}

// publishPending appends the queued changes to the events stream, in
// order, pipelined (cluster; a single node's scripts append their own).
// The ones that failed stay queued, first.
func (s *presenceStore) publishPending(ctx context.Context) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	cmds := make(rueidis.Commands, len(batch))
	for i, c := range batch {
		cmds[i] = s.b.client.B().Xadd().Key(s.stream).Maxlen().Almost().Threshold(strconv.Itoa(presenceStreamLen)).
			Id("*").FieldValue().FieldValue("t", c.kind).FieldValue("topic", c.topic).FieldValue("u", c.user).
			FieldValue("i", c.info).FieldValue("c", strconv.FormatInt(c.conns, 10)).
			FieldValue("ms", strconv.FormatInt(c.ms, 10)).FieldValue("s", strconv.FormatInt(c.seq, 10)).Build()
	}
	var failed []presenceChange
	var err error
	for i, r := range s.b.client.DoMulti(ctx, cmds...) {
		if e := r.Error(); e != nil {
			failed, err = append(failed, batch[i]), e
		}
	}
	if len(failed) > 0 {
		s.mu.Lock()
		s.pending = append(failed, s.pending...)
		s.mu.Unlock()
	}
	return err
}
