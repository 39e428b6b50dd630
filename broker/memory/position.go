package memory

import (
	"context"

	"github.com/ssevents/ssevents/sse"
)

var _ sse.Positioner = (*Broker)(nil)

// Position implements sse.Positioner: the newest id the broker has issued
// (ids are ordered across all its topics, so one id is the position of
// every topic). An event published after it returns takes a later id, and
// one still being published with an earlier id is recorded and delivered
// under its shards' locks, which a subscription takes too: resuming from
// the position yields exactly the events after it.
//
// Before the first publish it is the broker's first id, which no event
// takes (the next publish's id follows it), so that resuming from it is
// not an unknown id. With a data directory the position survives a
// restart like any id of the history.
func (b *Broker) Position(ctx context.Context, topics []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(topics) == 0 {
		return "", sse.ErrNoTopic
	}
	if b.closed.Load() {
		return "", sse.ErrBrokerClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		// Taken, as if by an event: the first publish gets a later id.
		b.last = b.first
	}
	return b.last.String(), nil
}
