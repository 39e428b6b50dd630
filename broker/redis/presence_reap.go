package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// reapLoop removes expired entries of every instance every reapEvery:
// every instance reaps, so the leaves of a dead instance's members come
// from the living ones; the scripts make each leave found exactly once.
func (s *presenceStore) reapLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.reapEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.fail(s.reap(s.ctx))
	}
}

// reap reaps the topics the index says are due. On a cluster, where the
// index is in another slot than the topics, it then sets each topic's
// index score to its first expiry, reads that expiry again and lowers the
// score to it: a set that raced with the reap lowered the score before
// that read (and is in it) or lowers it after, so a topic is never reaped
// late.
func (s *presenceStore) reap(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	c := s.b.client
	now := strconv.FormatInt(s.redisNow().UnixMilli(), 10)
	topics, err := c.Do(ctx, c.B().Zrange().Key(s.index).Min("-inf").Max(now).Byscore().
		Limit(0, presenceReapTopics).Build()).AsStrSlice()
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		return s.publishPending(ctx)
	}
	execs := make([]rueidis.LuaExec, len(topics))
	keep := strconv.FormatInt(s.keep.Milliseconds(), 10)
	for i, t := range topics {
		execs[i] = rueidis.LuaExec{Keys: s.keys(t), Args: []string{t, strconv.Itoa(presenceStreamLen), keep,
			strconv.Itoa(presenceReapEntries)}}
	}
	var errs []error
	var set, reread rueidis.Commands
	var reaped []string
	for i, res := range presenceReapScript.execMulti(ctx, c, execs) {
		_, first, changes, err := parseChanges(res, topics[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !s.b.cfg.Cluster {
			continue
		}
		s.queue(changes)
		reaped = append(reaped, topics[i])
		if first > 0 {
			set = append(set, c.B().Zadd().Key(s.index).ScoreMember().ScoreMember(float64(first), topics[i]).Build())
		} else {
			set = append(set, c.B().Zrem().Key(s.index).Member(topics[i]).Build())
		}
		reread = append(reread, c.B().Zrange().Key(s.keys(topics[i])[1]).Min("0").Max("0").Withscores().Build())
	}
	if err := s.publishPending(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(reaped) > 0 {
		errs = append(errs, s.reindex(ctx, reaped, set, reread))
	}
	return errors.Join(errs...)
}

// reindex sets the index scores of reaped topics, then lowers them to
// the first expiry read after (cluster; see reap).
func (s *presenceStore) reindex(ctx context.Context, topics []string, set, reread rueidis.Commands) error {
	c := s.b.client
	for _, r := range c.DoMulti(ctx, set...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	var lower rueidis.Commands
	for i, r := range c.DoMulti(ctx, reread...) {
		zs, err := r.AsZScores()
		if err != nil {
			return err
		}
		if len(zs) > 0 {
			lower = append(lower, c.B().Zadd().Key(s.index).Lt().ScoreMember().ScoreMember(zs[0].Score, topics[i]).Build())
		}
	}
	for _, r := range c.DoMulti(ctx, lower...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}
