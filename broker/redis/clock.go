package redis

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// A publish carries a deadline in Redis's own clock, and the publish
// script changes nothing when it runs later than that (it answers LATE).
// The publisher answers an error only once the deadline has passed, so a
// publish that was answered with an error can never take effect later,
// not even when Redis was paused with the command in its input buffer.
//
// Redis's clock is compared with ours through an offset measured with
// TIME, best of a few round trips: the uncertainty is half the round
// trip. The deadline sits deadlineMargin (plus that uncertainty) before
// the moment the publisher gives up, so a script that runs just in time
// still has its answer back before then.

// deadlineMargin is how long before the publisher gives up the script's
// deadline falls: enough for the answer of a script that just made it to
// come back over a healthy connection, and to absorb the clock drift
// between two offset measurements; a quarter of the time the publisher
// waits at most, so short waits keep most of their time.
const deadlineMargin = 250 * time.Millisecond

// clockSamples is how many TIME round trips a measurement takes; the one
// with the shortest round trip wins.
const clockSamples = 3

// clock is the measured offset of Redis's clock from ours.
type clock struct {
	mu          sync.Mutex
	offset      time.Duration // Redis time minus local time
	uncertainty time.Duration // half the round trip of the best sample
	measured    bool
}

// measure reads TIME a few times and keeps the sample with the shortest
// round trip.
func (b *Broker) measureClock(ctx context.Context) error {
	best := time.Duration(-1)
	var offset time.Duration
	for range clockSamples {
		t0 := time.Now()
		parts, err := b.client.Do(ctx, b.client.B().Time().Build()).AsStrSlice()
		t1 := time.Now()
		if err != nil {
			return err
		}
		if len(parts) != 2 {
			return errShortReply
		}
		sec, err1 := strconv.ParseInt(parts[0], 10, 64)
		usec, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			return errShortReply
		}
		rtt := t1.Sub(t0)
		if best >= 0 && rtt >= best {
			continue
		}
		best = rtt
		mid := t0.Add(rtt / 2)
		offset = time.Unix(sec, usec*1000).Sub(mid)
	}
	b.clock.mu.Lock()
	b.clock.offset, b.clock.uncertainty, b.clock.measured = offset, best/2, true
	b.clock.mu.Unlock()
	return nil
}

// scriptDeadline returns the deadline, in Redis milliseconds, to give a
// publish whose publisher gives up at giveUp, the span from now; "0"
// (none) before the clock
// was measured.
func (b *Broker) scriptDeadline(giveUp time.Time, span time.Duration) string {
	b.clock.mu.Lock()
	offset, unc, ok := b.clock.offset, b.clock.uncertainty, b.clock.measured
	b.clock.mu.Unlock()
	if !ok {
		return "0"
	}
	margin := min(deadlineMargin, span/4) + unc
	return strconv.FormatInt(giveUp.Add(offset-margin).UnixMilli(), 10)
}
