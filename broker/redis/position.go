package redis

import (
	"context"

	"github.com/ssevents/ssevents/sse"
)

var _ sse.Positioner = (*Broker)(nil)

// Position implements sse.Positioner: it takes the next id from the id
// record (see nextIDScript), as a publish does, without publishing. Ids are
// ordered across every topic of the Redis (on a cluster too: each publish
// takes its id from the record first), so the id is the position of any
// topics: an event published after Position returns takes a later id, one
// published before an earlier id, and the record is in Redis, so the
// position resumes the same on every instance. Taking a new id rather
// than reading the newest one keeps the position as young as the call:
// resuming from it on a topic whose stream never existed is a resync only
// once it is older than HistoryAge, as for any id.
func (b *Broker) Position(ctx context.Context, topics []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(topics) == 0 {
		return "", sse.ErrNoTopic
	}
	if b.closing.Load() {
		return "", sse.ErrBrokerClosed
	}
	rctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	id, err := b.nextID(rctx)
	if err != nil {
		return "", b.unavailable(ctx, "position", err)
	}
	return id, nil
}
