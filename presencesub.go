package ssevents

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// maxPresencePending bounds the presence events waiting for one stream: a
// client that lets more pile up is ended as slow, and gets a fresh
// snapshot when it reconnects.
const maxPresencePending = 8192

// presenceSub is the subscription of a stream that asks for presence
// events: the broker's subscription, with the snapshots of its tracked
// topics in front of its backlog and the joins and leaves of those topics
// drained with its events. It wakes the stream through the broker's
// subscription's Waker (both brokers of this module have one).
type presenceSub struct {
	inner  sse.Subscription
	paced  sse.Unaccepting
	p      *presence
	topics []string

	snapshots []sse.Event // set before the stream starts

	mu      sync.Mutex
	pending []sse.Event
	slow    bool
	notify  chan struct{}
	wakeFn  atomic.Pointer[func()]
}

// newPresenceSub wraps sub, or returns nil when sub cannot wake its
// stream for another source of events (a third-party broker's).
func newPresenceSub(p *presence, sub sse.Subscription, topics []string) *presenceSub {
	waker, ok := sub.(sse.Waker)
	paced, ok2 := sub.(sse.Unaccepting)
	if !ok || !ok2 {
		p.logger.Warn("the broker's subscriptions cannot carry presence events; the stream gets none", "topics", topics)
		return nil
	}
	ws := &presenceSub{inner: sub, paced: paced, p: p, topics: topics, notify: make(chan struct{}, 1)}
	waker.SetWake(ws.wake)
	return ws
}

// wake tells the stream that events are waiting or the subscription ended.
func (ws *presenceSub) wake() {
	if fn := ws.wakeFn.Load(); fn != nil {
		(*fn)()
		return
	}
	select {
	case ws.notify <- struct{}{}:
	default:
	}
}

// push queues a presence event for the stream.
func (ws *presenceSub) push(ev sse.Event) {
	ws.mu.Lock()
	if len(ws.pending) >= maxPresencePending {
		ws.slow = true
	} else {
		ws.pending = append(ws.pending, ev)
	}
	ws.mu.Unlock()
	ws.wake()
}

// Backlog implements sse.Subscription: the snapshots, then the broker's
// backlog.
func (ws *presenceSub) Backlog() sse.Backlog {
	b := ws.inner.Backlog()
	b.Events = append(append([]sse.Event(nil), ws.snapshots...), b.Events...)
	return b
}

// Notify implements sse.Subscription.
func (ws *presenceSub) Notify() <-chan struct{} { return ws.notify }

// SetWake implements sse.Waker.
func (ws *presenceSub) SetWake(fn func()) { ws.wakeFn.Store(&fn) }

// Drain implements sse.Subscription: the presence events waiting, then
// the broker's.
func (ws *presenceSub) Drain(dst []sse.Event) ([]sse.Event, error) {
	ws.mu.Lock()
	dst = append(dst, ws.pending...)
	clear(ws.pending)
	ws.pending = ws.pending[:0]
	slow := ws.slow
	ws.mu.Unlock()
	if slow {
		_ = ws.inner.Close()
		return dst, sse.ErrSlowConsumer
	}
	return ws.inner.Drain(dst)
}

// Close implements sse.Subscription.
func (ws *presenceSub) Close() error {
	ws.p.unwatch(ws)
	return ws.inner.Close()
}

// SetUnaccepted implements sse.Unaccepting.
func (ws *presenceSub) SetUnaccepted(n int) { ws.paced.SetUnaccepted(n) }

// SetAccepting implements sse.Unaccepting.
func (ws *presenceSub) SetAccepting(fn func() bool) { ws.paced.SetAccepting(fn) }

// Err implements sse.Unaccepting.
func (ws *presenceSub) Err() error {
	ws.mu.Lock()
	slow := ws.slow
	ws.mu.Unlock()
	if slow {
		return sse.ErrSlowConsumer
	}
	return ws.paced.Err()
}

// watch registers ws for the changes of its topics.
func (p *presence) watch(ws *presenceSub) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range ws.topics {
		set := p.watchers[t]
		if set == nil {
			set = map[*presenceSub]struct{}{}
			p.watchers[t] = set
		}
		set[ws] = struct{}{}
	}
}

// unwatch undoes watch; it is idempotent.
func (p *presence) unwatch(ws *presenceSub) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range ws.topics {
		if set := p.watchers[t]; set != nil {
			delete(set, ws)
			if len(set) == 0 {
				delete(p.watchers, t)
			}
		}
	}
}

// dispatch hands a join or leave to the streams watching its topic,
// encoded once for all of them.
func (p *presence) dispatch(ev sse.PresenceEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := p.watchers[ev.Topic]
	if len(set) == 0 {
		return
	}
	data, _ := json.Marshal(ev)
	e := presenceWireEvent(ev.Topic, ev.Type, data)
	for ws := range set {
		ws.push(e)
	}
}

// presenceWireEvent is a presence event as a stream writes it: without an
// id, so that the client's Last-Event-ID stays its last event's.
func presenceWireEvent(topic, name string, data []byte) sse.Event {
	return sse.Event{Topic: topic, Name: name, Data: data, Wire: wire.AppendEvent(nil, "", name, data)}
}
