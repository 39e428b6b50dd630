package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/ssevents/ssevents/sse"
)

// Broker is the Redis broker. It is safe for concurrent use; after Close,
// Publish and Subscribe return sse.ErrBrokerClosed and every
// subscription ends with it. While Redis is unreachable, subscriptions stay
// open, and Publish, Subscribe and Ready return errors wrapping
// sse.ErrUnavailable; a publish sent to Redis whose reply was lost returns
// an error wrapping sse.ErrOutcomeUnknown instead (see outcomeUnknown).
type Broker struct {
	opts    sse.BrokerOptions
	cfg     Config
	client  rueidis.Client
	log     *slog.Logger
	counter string // the id record: newest id and dataset genesis (see publishScript)
	clock   clock  // Redis's clock, for publish deadlines

	envObserver  sse.EnvelopeObserver // opts.Observer, when it counts malformed envelopes
	malformedLog malformedLog         // channels whose first malformed envelope was logged

	ctx    context.Context // canceled by Close; ends the subscriber connections' goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// closing is closed, readable without mu: Publish reads it, so that a
	// publish never waits for mu, which a fan-out to a topic's local
	// subscribers holds (see onMessage).
	closing atomic.Bool

	reads        resumeReads       // backlog reads, coalesced and bounded
	inflight     keySet            // idempotency keys of this instance's publishes in flight
	inFlightHook func(sse.Message) // tests only: see holdInFlight

	mu       sync.Mutex
	closed   bool
	topics   map[string]*topic           // by topic name
	channels map[string]*topic           // by channel name
	conns    map[string]*subscriberConn  // by node address; "" for a single node
	slots    []string                    // cluster: the address of each slot's master
	classic  *classicConn                // cluster with ClassicPubSub: the classic channels' subscriber
	presence map[*presenceStore]struct{} // open presence stores, closed before the client
}

var _ sse.Broker = (*Broker)(nil)

var errShortReply = errors.New("ssevents/redis: unexpected reply")

// New connects to Redis as cfg says and returns a broker. Zero fields of
// opts take their defaults (see sse.BrokerOptions). It returns an
// error wrapping sse.ErrUnavailable when Redis cannot be reached.
func New(ctx context.Context, cfg Config, opts sse.BrokerOptions) (*Broker, error) {
	opts = opts.WithDefaults()
	if strings.ContainsAny(opts.TopicPrefix, "{}") {
		return nil, fmt.Errorf("%w: topic prefix %q must not contain braces", sse.ErrInvalidConfig, opts.TopicPrefix)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	client, err := rueidis.NewClient(cfg.clientOption())
	if err != nil {
		return nil, fmt.Errorf("%w: connect to redis: %v", sse.ErrUnavailable, err)
	}
	b := &Broker{
		opts: opts, cfg: cfg, client: client, log: opts.Logger,
		counter:  "ssevents:ids",
		topics:   make(map[string]*topic),
		channels: make(map[string]*topic),
		conns:    make(map[string]*subscriberConn),
	}
	b.reads.slots = make(chan struct{}, maxBacklogReads)
	if opts.TopicPrefix != "" {
		b.counter += ":" + opts.TopicPrefix
	}
	b.envObserver, _ = opts.Observer.(sse.EnvelopeObserver)
	if cfg.Cluster {
		if b.slots, err = b.loadSlots(ctx); err != nil {
			client.Close()
			return nil, fmt.Errorf("%w: read the cluster's slots: %v", sse.ErrUnavailable, err)
		}
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	err = b.measureClock(mctx)
	cancel()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: read the server's clock: %v", sse.ErrUnavailable, err)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if cfg.Cluster && opts.ClassicPubSub {
		// On one server (or Sentinel) the channels are classic already.
		b.classic = b.newClassicConn()
	}
	return b, nil
}

// loadSlots reads which master owns each slot (CLUSTER SLOTS).
func (b *Broker) loadSlots(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	ranges, err := b.client.Do(ctx, b.client.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return nil, err
	}
	slots := make([]string, slotCount)
	for _, r := range ranges {
		f, err := r.ToArray()
		if err != nil || len(f) < 3 {
			return nil, errShortReply
		}
		lo, _ := f[0].AsInt64()
		hi, _ := f[1].AsInt64()
		node, err := f[2].ToArray()
		if err != nil || len(node) < 2 {
			return nil, errShortReply
		}
		host, _ := node[0].ToString()
		port, _ := node[1].AsInt64()
		addr := net.JoinHostPort(host, strconv.FormatInt(port, 10))
		for s := lo; s <= hi && s < slotCount; s++ {
			slots[s] = addr
		}
	}
	return slots, nil
}

// channel returns the Pub/Sub channel of topic: the topic, or
// "<prefix>:<topic>" with a TopicPrefix (the channel fastapi-sse-events
// uses for it).
func (b *Broker) channel(topic string) string {
	if b.opts.TopicPrefix == "" {
		return topic
	}
	return b.opts.TopicPrefix + ":" + topic
}

// streamKey returns the key of a channel's history stream. The hash tag
// puts it in the channel's cluster slot.
func streamKey(channel string) string { return "ssevents:{" + channel + "}" }

// Publish implements sse.Broker. On a single node (or Sentinel) one
// Lua script stores the event in every topic's stream and publishes it,
// atomically, with one id. On a cluster the id comes first from the
// counter key's shard (so ids are ordered across shards), then each topic's
// shard stores and publishes its copy: a publisher racing for the same
// stream may make a copy take a later id, and a failure part way leaves
// the event published to the topics before the failure.
func (b *Broker) Publish(ctx context.Context, msg sse.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(msg.Topics) == 0 {
		return "", sse.ErrNoTopic
	}
	if b.closing.Load() {
		return "", sse.ErrBrokerClosed
	}
	now := time.Now()
	giveUp := now.Add(b.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(giveUp) {
		giveUp = d
	}
	// Once sent, a publish is waited for until its answer or giveUp even
	// if ctx is canceled meanwhile: the script may still run until its
	// deadline, and an error returned before that could be a publish that
	// happens after all.
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), giveUp)
	defer cancel()
	deadline := b.scriptDeadline(giveUp, giveUp.Sub(now))
	var mid string
	if len(msg.Topics) > 1 {
		mid = rand.Text()[:16] // 80 random bits tell the copies of this event from any other
	}
	var fp string // the request's fingerprint, for a publish with an idempotency key
	if msg.IdempotencyKey != "" {
		if !b.inflight.enter(msg.IdempotencyKey) {
			return "", sse.NewIdempotencyKeyError(msg.IdempotencyKey, sse.ErrIdempotencyKeyInFlight)
		}
		defer b.inflight.leave(msg.IdempotencyKey)
		f := msg.Fingerprint()
		fp = hex.EncodeToString(f[:])
	}
	head, tail := messageParts(msg, mid)
	args := []string{strconv.Itoa(b.opts.HistorySize), strconv.FormatInt(b.opts.HistoryAge.Milliseconds(), 10),
		msg.Event, string(msg.Data), head, tail, mid}
	if !b.cfg.Cluster {
		keys := make([]string, 0, len(msg.Topics)+2)
		keys = append(keys, b.counter, b.idempotencyKey(msg, ""))
		args = append(args, deadline, fp)
		for _, t := range msg.Topics {
			ch := b.channel(t)
			keys = append(keys, streamKey(ch))
			args = append(args, ch)
		}
		b.holdInFlight(msg)
		id, err := publishScript.Exec(rctx, b.client, keys, args).ToString()
		if err != nil {
			return "", b.publishError(ctx, msg, err, outcomeUnknown(err))
		}
		return id, nil
	}
	id, unknown, err := b.publishShards(rctx, msg, args, deadline, fp, giveUp.Sub(now))
	if err != nil {
		return "", b.publishError(ctx, msg, err, unknown)
	}
	return id, nil
}

// publishShards publishes msg on a cluster: the id comes from the id
// record's shard, then each topic's shard stores and publishes its copy.
// args are the first seven arguments of the publish scripts. With a
// fingerprint fp (a publish with an idempotency key), the key is reserved
// first for at most timeout (see reserve) and settled after. It returns
// the first topic's id; on error, unknown reports whether the publish may
// have taken effect on some topic (see outcomeUnknown).
func (b *Broker) publishShards(ctx context.Context, msg sse.Message, args []string, deadline, fp string, timeout time.Duration) (first string, unknown bool, err error) {
	var id string
	if fp == "" {
		id, err = b.nextID(ctx)
	} else {
		var retry bool
		if id, retry, err = b.reserve(ctx, msg, fp, timeout); err == nil && retry {
			return id, false, nil
		}
		if err == nil {
			defer func() { b.settle(msg, fp, first) }()
			b.holdInFlight(msg)
		}
	}
	if err != nil {
		return "", false, err // only an id was taken: nothing is published
	}
	for _, t := range msg.Topics {
		ch := b.channel(t)
		keys := []string{streamKey(ch), b.idempotencyKey(msg, ch)}
		shardArgs := func(id string) []string { return append(args[:7:7], ch, id, deadline, fp) }
		got, err := shardPublishScript.Exec(ctx, b.client, keys, shardArgs(id)).ToString()
		for try := 0; err != nil && isIDTooSmall(err) && try < 3; try++ {
			// A publisher that took a later id wrote to this stream first.
			want := "*"
			if try < 2 {
				if id, err = b.nextID(ctx); err != nil {
					break
				}
				want = id
			}
			got, err = shardPublishScript.Exec(ctx, b.client, keys, shardArgs(want)).ToString()
		}
		if err != nil {
			// Published on the topics before this one, if any.
			return "", first != "" || outcomeUnknown(err), err
		}
		if first == "" {
			first = got
		}
	}
	return first, false, nil
}

// nextID takes the next event id from the counter (a publish on a
// cluster, and Position).
func (b *Broker) nextID(ctx context.Context) (string, error) {
	return nextIDScript.Exec(ctx, b.client, []string{b.counter}, nil).ToString()
}

func isIDTooSmall(err error) bool { return strings.Contains(err.Error(), "equal or smaller") }

// unavailable counts and wraps a Redis failure. The caller's own
// cancellation is returned as it is.
func (b *Broker) unavailable(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.opts.Observer.BrokerError()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return sse.ErrBrokerClosed
	}
	return fmt.Errorf("%w: redis %s: %v", sse.ErrUnavailable, op, err)
}

// Ready implements sse.Broker: nil when Redis answers PING within the
// timeout and every subscriber connection is up.
func (b *Broker) Ready(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return sse.ErrBrokerClosed
	}
	for _, l := range b.conns {
		if !l.up && l.err != nil && len(l.want) > 0 {
			err := l.err
			b.mu.Unlock()
			return fmt.Errorf("%w: redis subscriber connection: %v", sse.ErrUnavailable, err)
		}
	}
	if c := b.classic; c != nil && !c.up && c.err != nil && len(c.want) > 0 {
		err := c.err
		b.mu.Unlock()
		return fmt.Errorf("%w: redis classic subscriber connection: %v", sse.ErrUnavailable, err)
	}
	b.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	if b.cfg.Cluster {
		for addr, node := range b.client.Nodes() {
			if err := node.Do(rctx, node.B().Ping().Build()).Error(); err != nil {
				return b.unavailable(ctx, "ping "+addr, err)
			}
		}
		_ = b.measureClock(rctx)
		return nil
	}
	if err := b.client.Do(rctx, b.client.B().Ping().Build()).Error(); err != nil {
		return b.unavailable(ctx, "ping", err)
	}
	// Readiness is polled: keep the clock offset fresh (drift, a
	// failover to a server with another clock).
	_ = b.measureClock(rctx)
	return nil
}

// TopicCount returns the number of topics with local subscribers.
func (b *Broker) TopicCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics)
}

// Close implements sse.Broker: it ends every subscription with
// sse.ErrBrokerClosed, stops the subscriber connections, waits for
// their goroutines and closes the Redis client. It is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closing.Store(true)
	var subs []*subscription
	for _, t := range b.topics {
		for s := range t.subs {
			subs = append(subs, s)
		}
	}
	b.mu.Unlock()
	b.closePresence()
	b.cancel()
	for _, s := range subs {
		s.end(sse.ErrBrokerClosed)
	}
	b.wg.Wait()
	b.client.Close()
	return nil
}

// backoff returns the wait before reconnection attempt n (0-based):
// doubling from minBackoff up to maxBackoff, so a restarted Redis is
// found within a second and a long outage costs few attempts.
func backoff(n int) time.Duration {
	d := minBackoff << min(n, 10)
	return min(d, maxBackoff)
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)
