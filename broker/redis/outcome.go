package redis

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/redis/rueidis"
	"github.com/ssevents/ssevents/sse"
)

// publishFailed counts and wraps the failure err of a publish: in
// sse.ErrOutcomeUnknown when the publish may have taken effect (unknown),
// else as unavailable does. Even when the caller's ctx is done, an unknown
// outcome is reported as such: the caller may not read it as "not
// published".
func (b *Broker) publishFailed(ctx context.Context, err error, unknown bool) error {
	if !unknown {
		return b.unavailable(ctx, "publish", err)
	}
	b.opts.Observer.BrokerError()
	return fmt.Errorf("%w: the connection to redis failed before the publish was answered (%v): publish again with the same Idempotency-Key to learn whether it was published",
		sse.ErrOutcomeUnknown, err)
}

// outcomeUnknown reports whether a command that failed with err may have
// run in Redis: it was written to a connection that then broke or timed
// out before the reply came. A Redis error reply (LATE, LOADING, OOM, a
// script error before any write ...) means it did not run, and a failed
// dial means it was never sent.
//
// A publish that Redis ran and logged in its append-only file just before
// it was killed is such a case: its reply never leaves the dead process,
// but Redis restarted from the file holds the event and delivers it.
func outcomeUnknown(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := rueidis.IsRedisErr(err); ok {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return !errors.Is(err, rueidis.ErrClosing)
}
