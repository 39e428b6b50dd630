package redis

import (
	"context"
	"slices"
	"time"

	"github.com/redis/rueidis"
)

// classicConn is, on a Redis Cluster with BrokerOptions.ClassicPubSub, the
// one connection on which the broker also SUBSCRIBEs the classic Pub/Sub
// channel of every topic with local subscribers. A classic PUBLISH on a
// cluster reaches the subscribers of every node, so one connection to any
// node sees the plain PUBLISHes of fastapi-sse-events publishers, which
// the sharded subscriptions (SSUBSCRIBE) never see. Its goroutine owns the
// connection, moves to another node when it breaks, and resubscribes.
//
// What arrives here is treated as a classic PUBLISH is on a single server:
// a foreign envelope is delivered live, with no id (it is in no stream). A
// message of ours (with the marker) is dropped: on a cluster we publish
// with SPUBLISH, so our events reach the topic's shard subscription, in
// order and from the stream after a reconnect; a copy arriving on a classic
// channel too must not be delivered twice.
type classicConn struct {
	b    *Broker
	kick chan struct{} // capacity 1: one pending "channels changed" is enough

	// Guarded by b.mu.
	health
	want map[string]*classicChannel // channels that should be subscribed
	addr string                     // node of the current (or last) session
}

// classicChannel is a channel the classic connection should subscribe.
type classicChannel struct {
	ready   chan struct{} // closed once the channel was first subscribed
	isReady bool
}

func (b *Broker) newClassicConn() *classicConn {
	c := &classicConn{b: b, kick: make(chan struct{}, 1), want: make(map[string]*classicChannel)}
	b.wg.Add(1)
	go c.run()
	return c
}

// addLocked asks for channel and returns what is closed once it is
// subscribed. b.mu is held.
func (c *classicConn) addLocked(channel string) chan struct{} {
	ch := c.want[channel]
	if ch == nil {
		ch = &classicChannel{ready: make(chan struct{})}
		c.want[channel] = ch
	}
	return ch.ready
}

// removeLocked gives channel up. b.mu is held.
func (c *classicConn) removeLocked(channel string) { delete(c.want, channel) }

func (c *classicConn) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *classicConn) run() {
	defer c.b.wg.Done()
	ctx := c.b.ctx
	for attempt := 0; ; attempt++ {
		connected, _ := c.session(ctx, attempt) // reported by lost
		if ctx.Err() != nil {
			return
		}
		if connected {
			attempt = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(attempt)):
		}
	}
}

// lost marks the connection down after its session ended with err.
func (c *classicConn) lost(err error) {
	c.b.mu.Lock()
	wasUp := c.setDown(err)
	addr := c.addr
	c.b.mu.Unlock()
	c.b.opts.Observer.BrokerError()
	if wasUp {
		c.b.log.Warn("redis classic subscriber connection lost; reconnecting", "addr", addr, "error", err)
	}
}

// node returns a cluster node for attempt n: the nodes in address order,
// one after the other, so a node that does not answer is passed over.
func (c *classicConn) node(n int) (string, rueidis.Client) {
	nodes := c.b.client.Nodes()
	addrs := make([]string, 0, len(nodes))
	for a := range nodes {
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return "", nil
	}
	slices.Sort(addrs)
	a := addrs[n%len(addrs)]
	return a, nodes[a]
}

// session runs one classic subscriber connection until it breaks or ctx is
// done. It reports whether the connection got up.
func (c *classicConn) session(ctx context.Context, attempt int) (connected bool, err error) {
	addr, node := c.node(attempt)
	if node == nil {
		c.lost(errConnLost)
		return false, errConnLost
	}
	dc, release := node.Dedicate()
	defer release()
	defer func() {
		// Before the release, which may wait on a connection that Redis
		// no longer answers: waiters learn now that it failed.
		if ctx.Err() == nil {
			c.lost(err)
		}
	}()
	broken := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) { c.b.onClassicMessage(m.Channel, m.Message) },
	})
	pctx, cancel := context.WithTimeout(ctx, c.b.cfg.Timeout)
	err = dc.Do(pctx, dc.B().Ping().Build()).Error()
	cancel()
	if err != nil {
		return false, err
	}
	c.b.mu.Lock()
	if c.everUp {
		c.b.opts.Observer.BrokerReconnect()
		c.b.log.Info("redis classic subscriber connection restored", "addr", addr)
	}
	c.setUp()
	c.addr = addr
	c.b.mu.Unlock()
	have := make(map[string]bool) // channels subscribed on this connection
	for {
		if err := c.reconcile(ctx, dc, have); err != nil {
			return true, err
		}
		c.b.mu.Lock()
		c.setSynced()
		c.b.mu.Unlock()
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-broken:
			if err == nil {
				err = errConnLost
			}
			return true, err
		case <-c.kick:
		}
	}
}

// reconcile subscribes the channels wanted and not yet subscribed,
// unsubscribes those no longer wanted, and marks the new ones ready.
func (c *classicConn) reconcile(ctx context.Context, dc rueidis.DedicatedClient, have map[string]bool) error {
	c.b.mu.Lock()
	var add, drop []string
	for ch := range have {
		if c.want[ch] == nil {
			drop = append(drop, ch)
		}
	}
	for ch, w := range c.want {
		switch {
		case !have[ch]:
			add = append(add, ch)
		case !w.isReady: // given up and asked for again while subscribed
			w.isReady = true
			close(w.ready)
		}
	}
	c.b.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, c.b.cfg.Timeout)
	defer cancel()
	if len(drop) > 0 {
		if err := dc.Do(rctx, dc.B().Unsubscribe().Channel(drop...).Build()).Error(); err != nil {
			return err
		}
		for _, ch := range drop {
			delete(have, ch)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := dc.Do(rctx, dc.B().Subscribe().Channel(add...).Build()).Error(); err != nil {
		return err
	}
	c.b.mu.Lock()
	for _, ch := range add {
		have[ch] = true
		if w := c.want[ch]; w != nil && !w.isReady {
			w.isReady = true
			close(w.ready)
		}
	}
	c.b.mu.Unlock()
	return nil
}

// onClassicMessage handles a message from the classic connection. It runs
// on the connection's reader goroutine, so it never blocks.
func (b *Broker) onClassicMessage(channel, payload string) {
	d, err := decodeMessage(payload, time.Now())
	if err != nil {
		b.malformed(channel, payload, err)
		return
	}
	if d.hasID {
		return // ours: delivered from the topic's shard (see classicConn)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.channels[channel]
	if t == nil {
		return
	}
	d.ev.Topic = t.name
	b.deliverLocked(t, d)
}
