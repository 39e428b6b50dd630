package redis

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/internal/streamid"
)

// topic is a topic with local subscribers. Its fields are guarded by b.mu.
type topic struct {
	name, channel, key string
	conn               *subscriberConn
	subs               map[*subscription]struct{}
	last               streamid.ID // newest event delivered locally
	genesis            streamid.ID // the dataset's genesis when t was last synced
	synced             bool        // subscribed on the current connection and caught up
	pending            []delivery  // live events that arrived while syncing
	ready              chan struct{}
	isReady            bool // ready is closed
}

// subscriberConn is the subscriber connection to one Redis node (the node,
// or one cluster master), shared by every local topic that node serves:
// SUBSCRIBE when a topic gets its first local subscriber, UNSUBSCRIBE after
// its last. Its goroutine owns the connection and reconnects it with
// backoff, and fans each message out to the topic's local subscribers.
type subscriberConn struct {
	b      *Broker
	addr   string
	client rueidis.Client
	kick   chan struct{} // capacity 1: one pending "topics changed" is enough

	// Guarded by b.mu.
	health
	want map[string]*topic // channel -> topic that should be subscribed
	// Channels with an UNSUBSCRIBE of ours in flight, and how many: the
	// confirmations of those are not a slot moving away.
	unsubbing map[string]int
}

// errConnLost reports a subscriber connection that broke without an error.
var errConnLost = errors.New("subscriber connection lost")

// errSlotMoved ends a session whose node gave up the slot of a topic.
var errSlotMoved = errors.New("a subscribed slot moved to another node")

// refreshSlots rereads the cluster's slot map and moves each topic whose
// slot has another owner now to that owner's subscriber connection, which replays it from
// the stream (the stream moved with the slot).
func (b *Broker) refreshSlots(ctx context.Context) {
	slots, err := b.loadSlots(ctx)
	if err != nil {
		return
	}
	nodes := b.client.Nodes()
	var pokes []*subscriberConn
	b.mu.Lock()
	b.slots = slots
	for _, t := range b.topics {
		addr := slots[slot(t.channel)]
		node, ok := nodes[addr]
		if addr == t.conn.addr || !ok {
			continue
		}
		nl := b.conns[addr]
		if nl == nil {
			nl = b.newSubscriberConn(addr, node)
			b.conns[addr] = nl
		}
		if t.conn.want[t.channel] == t {
			delete(t.conn.want, t.channel)
		}
		pokes = append(pokes, t.conn, nl)
		t.conn, t.synced, t.pending = nl, false, nil
		nl.want[t.channel] = t
	}
	b.mu.Unlock()
	for _, l := range pokes {
		l.poke()
	}
}

func (b *Broker) newSubscriberConn(addr string, client rueidis.Client) *subscriberConn {
	l := &subscriberConn{b: b, addr: addr, client: client, kick: make(chan struct{}, 1),
		want: make(map[string]*topic), unsubbing: make(map[string]int)}
	b.wg.Add(1)
	go l.run()
	return l
}

func (l *subscriberConn) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *subscriberConn) run() {
	defer l.b.wg.Done()
	ctx := l.b.ctx
	for attempt := 0; ; attempt++ {
		connected, _ := l.session(ctx) // reported by lost
		if ctx.Err() != nil {
			return
		}
		if connected {
			attempt = 0
		}
		if l.b.cfg.Cluster {
			// The node may have lost its slots (resharding, failover):
			// move topics to their owners, and stop if none is left here.
			l.b.refreshSlots(ctx)
			l.b.mu.Lock()
			idle := len(l.want) == 0
			if idle && l.b.conns[l.addr] == l {
				delete(l.b.conns, l.addr)
			}
			l.b.mu.Unlock()
			if idle {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(attempt)):
		}
	}
}

// lost marks the connection down after its session ended with err.
func (l *subscriberConn) lost(err error) {
	l.b.mu.Lock()
	wasUp := l.setDown(err)
	clear(l.unsubbing)
	for _, t := range l.want {
		t.synced = false
		t.pending = nil
	}
	l.b.mu.Unlock()
	l.b.opts.Observer.BrokerError()
	if wasUp {
		l.b.log.Warn("redis subscriber connection lost; reconnecting", "addr", l.addr, "error", err)
	}
}

// session runs one subscriber connection until it breaks or ctx is done.
// It reports whether the connection got up.
func (l *subscriberConn) session(ctx context.Context) (connected bool, err error) {
	dc, release := l.client.Dedicate()
	defer release()
	defer func() {
		// Before the release, which may wait on a connection that Redis
		// no longer answers (seconds, when it is frozen): a Subscribe
		// waiting for this connection learns now that it failed.
		if ctx.Err() == nil {
			l.lost(err)
		}
	}()
	moved := make(chan struct{}, 1) // capacity 1: one notice ends the session
	broken := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) { l.b.onMessage(m.Channel, m.Message) },
		OnSubscription: func(s rueidis.PubSubSubscription) {
			// Redis ends the shard subscriptions of a slot that moved to
			// another node; our own SUNSUBSCRIBEs are for unwanted channels.
			if s.Kind != "sunsubscribe" {
				return
			}
			l.b.mu.Lock()
			_, wanted := l.want[s.Channel]
			ours := l.unsubbing[s.Channel] > 0
			if ours {
				if l.unsubbing[s.Channel]--; l.unsubbing[s.Channel] == 0 {
					delete(l.unsubbing, s.Channel)
				}
			}
			l.b.mu.Unlock()
			if wanted && !ours {
				select {
				case moved <- struct{}{}:
				default:
				}
			}
		},
	})
	pctx, cancel := context.WithTimeout(ctx, l.b.cfg.Timeout)
	err = dc.Do(pctx, dc.B().Ping().Build()).Error()
	cancel()
	if err != nil {
		return false, err
	}
	l.b.mu.Lock()
	if l.everUp {
		l.b.opts.Observer.BrokerReconnect()
		l.b.log.Info("redis subscriber connection restored", "addr", l.addr)
	}
	l.setUp()
	l.b.mu.Unlock()
	have := make(map[string]*topic) // channels subscribed on this connection, and the topic synced for each
	for {
		if err := l.reconcile(ctx, dc, have); err != nil {
			return true, err
		}
		l.b.mu.Lock()
		l.setSynced()
		l.b.mu.Unlock()
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-broken:
			if err == nil {
				err = errConnLost
			}
			return true, err
		case <-moved:
			return true, errSlotMoved
		case <-l.kick:
		}
	}
}

// reconcile subscribes the channels wanted and not yet subscribed,
// unsubscribes those no longer wanted, and syncs topics that are new.
func (l *subscriberConn) reconcile(ctx context.Context, dc rueidis.DedicatedClient, have map[string]*topic) error {
	l.b.mu.Lock()
	var add, drop []string
	var sync []*topic
	for ch := range have {
		if l.want[ch] == nil {
			drop = append(drop, ch)
			l.unsubbing[ch]++
		}
	}
	for ch, t := range l.want {
		if have[ch] == nil {
			add = append(add, ch)
		}
		if have[ch] != t || !t.synced {
			sync = append(sync, t)
		}
	}
	l.b.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, l.b.cfg.Timeout)
	defer cancel()
	if len(drop) > 0 {
		if err := doAll(rctx, dc, l.b.pubsubCmds(dc, false, drop)); err != nil {
			return err
		}
		for _, ch := range drop {
			delete(have, ch)
		}
	}
	if len(add) > 0 {
		if err := doAll(rctx, dc, l.b.pubsubCmds(dc, true, add)); err != nil {
			return err
		}
	}
	// Synced in batches of one round trip each, not one round trip per
	// topic: after a restart every topic of the hub is new at once.
	for batch := range slices.Chunk(sync, syncBatch) {
		sctx, cancel := context.WithTimeout(ctx, l.b.cfg.Timeout)
		err := l.b.syncTopics(sctx, batch)
		cancel()
		if err != nil {
			return err
		}
		for _, t := range batch {
			have[t.channel] = t
		}
	}
	return nil
}

// syncBatch is how many topics one round trip syncs: a batch's replies
// (each topic's state, and the events a topic missed while its
// connection was down) stay small enough to come back well within the
// timeout, and a subscriber of the first topics need not wait for the
// thousandth.
const syncBatch = 256

// onMessage handles a message from a subscriber connection. It runs on the
// connection's reader goroutine, so it never blocks: queues never wait.
func (b *Broker) onMessage(channel, payload string) {
	d, err := decodeMessage(payload, time.Now())
	if err != nil {
		b.malformed(channel, payload, err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.channels[channel]
	if t == nil {
		return
	}
	d.ev.Topic = t.name
	if d.hasID && !t.synced {
		t.pending = append(t.pending, d)
		return
	}
	b.deliverLocked(t, d)
}

// deliverLocked hands d to t's subscribers unless it was delivered
// already. b.mu is held.
func (b *Broker) deliverLocked(t *topic, d delivery) {
	if d.hasID {
		if !t.last.Less(d.id) {
			return // replayed from the stream already
		}
		t.last = d.id
	}
	for s := range t.subs {
		s.offer(d)
	}
}

// pubsubCmds returns the commands that subscribe (or unsubscribe) channels:
// one command for all on a single node; one per channel on a cluster,
// where SSUBSCRIBE takes channels of one slot only.
func (b *Broker) pubsubCmds(dc rueidis.DedicatedClient, subscribe bool, channels []string) rueidis.Commands {
	switch {
	case !b.cfg.Cluster && subscribe:
		return rueidis.Commands{dc.B().Subscribe().Channel(channels...).Build()}
	case !b.cfg.Cluster:
		return rueidis.Commands{dc.B().Unsubscribe().Channel(channels...).Build()}
	}
	cmds := make(rueidis.Commands, 0, len(channels))
	for _, ch := range channels {
		if subscribe {
			cmds = append(cmds, dc.B().Ssubscribe().Channel(ch).Build())
		} else {
			cmds = append(cmds, dc.B().Sunsubscribe().Channel(ch).Build())
		}
	}
	return cmds
}

func doAll(ctx context.Context, dc rueidis.DedicatedClient, cmds rueidis.Commands) error {
	for _, r := range dc.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}
