package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/internal/pace"
)

// eventName is the name of the events a run publishes.
const eventName = "check"

// payload is the data of a published event: the publish's identity, so
// that a delivery can be traced to its publish.
type payload struct {
	Check string `json:"check"`
	Topic string `json:"topic"`
	Key   string `json:"key"`
	Seq   int    `json:"seq"`
}

// subscribe runs stream s until ctx ends, recording what it receives.
func (r *run) subscribe(ctx context.Context, s *streamLog) {
	c := r.subs[s.index%len(r.subs)]
	onState := client.OnConnState(func(cs client.ConnState) {
		if cs.Connected {
			s.connected(time.Now())
		} else if cs.Err != nil && ctx.Err() == nil {
			r.cfg.Logger.Debug("check: stream disconnected", "stream", s.index, "url", s.url, "err", cs.Err)
		}
	})
	for ev, err := range c.Events(ctx, s.topics, onState) {
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.Logger.Warn("check: stream ended", "stream", s.index, "url", s.url, "err", err)
				s.ended(err)
			}
			return
		}
		if ev.Kind == client.KindResync {
			rs := resync{topics: ev.Topics, at: now}
			if r := ev.Resync; r != nil {
				rs.topic, rs.reason, rs.oldest, rs.genesis = r.Topic, string(r.Reason), r.Oldest, r.Genesis
			}
			s.resynced(rs, ev.ID)
			continue
		}
		var p payload
		if json.Unmarshal(ev.Data, &p) != nil || p.Check != r.id {
			p = payload{Topic: ev.Topic}
		}
		s.deliver(delivery{id: ev.ID, topic: p.Topic, key: p.Key, at: now})
	}
}

// publishAll publishes Rate events a second for Duration, round-robin
// over the topics and URLs, with at most Publishers in flight. Event i is
// due at start + i/Rate; a slow hub, or a busy machine, delays the events
// behind it. The run publishes all Rate x Duration events unless it falls
// Drain behind: whatever is not sent by then is not sent, so that a hub
// that answers nothing does not hold the run for long. (Cutting at the end
// of Duration instead made the count depend on scheduling: the last event
// is due one interval before the end, and a goroutine woken that late
// dropped it.)
func (r *run) publishAll(ctx context.Context) {
	start := time.Now()
	end := start.Add(r.cfg.Duration + r.cfg.Drain)
	schedule, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range r.cfg.Publishers {
		wg.Go(func() {
			for i := range jobs {
				r.publish(ctx, i)
			}
		})
	}
	interval := time.Second / time.Duration(r.cfg.Rate)
	total := int(int64(r.cfg.Rate) * int64(r.cfg.Duration) / int64(time.Second))
	pace.Schedule(schedule, start, interval, max(total, 1), jobs)
	wg.Wait()
}

// publish publishes event i with its idempotency key, recording every
// attempt.
func (r *run) publish(ctx context.Context, i int) {
	topic := r.topics[i%len(r.topics)]
	p := &publishLog{key: fmt.Sprintf("check-%s-%d", r.id, i), topic: topic, seq: i}
	r.send(ctx, p, r.pubs[i%len(r.pubs)])
	r.book.add(p)
}

// resolveUnanswered sends once more, with the same idempotency key, every
// publish that is not acknowledged and had an attempt of unknown outcome
// (no answer, 502 or 504; see publishLog.unanswered): that attempt may
// have published (a hub killed after storing the event, Redis killed after
// logging it but before answering). The hub answers the id of that publish
// if it took effect, or publishes the event now, so every event that may
// be delivered ends with a known outcome. Publishes answered only with
// other errors (503: not published) are not sent again: they must never
// be delivered.
func (r *run) resolveUnanswered(ctx context.Context) {
	for _, p := range r.book.snapshot() {
		if p.acked || !p.unanswered() {
			continue
		}
		r.send(ctx, p, r.pubs[p.seq%len(r.pubs)])
		if p.acked {
			p.resolved = true
		}
	}
}

// send makes the requests of one publish through c, recording each
// attempt in p and the outcome.
func (r *run) send(ctx context.Context, p *publishLog, c *client.Client) {
	topic := p.topic
	data, _ := json.Marshal(payload{Check: r.id, Topic: topic, Key: p.key, Seq: p.seq})
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	id, err := c.PublishMessage(ctx, client.Message{
		Topics: []string{topic}, Event: eventName, Data: json.RawMessage(data), IdempotencyKey: p.key,
		OnAttempt: func(a client.PublishAttempt) {
			at := attempt{start: a.Start, end: a.End, id: a.ID}
			if a.Err != nil {
				at.err, at.status = a.Err.Error(), statusOf(a.Err)
			}
			p.attempts = append(p.attempts, at)
		},
	})
	if err != nil {
		p.finalErr, p.finalStatus = err.Error(), statusOf(err)
		if len(p.attempts) == 0 {
			p.attempts = append(p.attempts, attempt{start: time.Now(), end: time.Now(), err: err.Error()})
		}
		r.cfg.Logger.Debug("check: publish failed", "key", p.key, "err", err)
	} else {
		p.acked, p.id = true, id
		p.finalErr, p.finalStatus = "", 0
	}
}

// statusOf returns the HTTP status of an error answer, 0 for an error
// without one.
func statusOf(err error) int {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}
