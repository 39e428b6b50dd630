package client

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Kind tells the events an application published from the notices
// ssevents sends itself.
type Kind int

const (
	// KindEvent is an event an application published.
	KindEvent Kind = iota
	// KindResync says that the server could not replay everything since
	// the subscription's last event id: events of Event.Topics may have
	// been missed, and the application should refetch their state (through
	// its REST API, say). Event.Resync says why. The server sends one per
	// such topic; later events arrive as usual.
	KindResync
	// KindTokenExpired says that the credentials the stream was opened
	// with expired at Event.Exp and the server ended the stream. With
	// Config.TokenFunc the subscription reconnects at once with a fresh
	// token (from TokenFunc); without it, Subscribe returns an error
	// wrapping ErrTokenExpired after handling this event.
	KindTokenExpired
	// KindHeartbeat is the server's named heartbeat event (a hub started
	// with SSE_HEARTBEAT_EVENT=true), delivered only to a subscription
	// made with the Heartbeats option. Heartbeats sent as SSE comments,
	// the default, are never delivered.
	KindHeartbeat
	// KindPresence is a snapshot of who is present on Event.Topic
	// (Event.Presence), sent first on a subscription made with the
	// Presence option, and again after each reconnection.
	KindPresence
	// KindJoin says that a user became present on Event.Topic
	// (Event.Change), on a subscription made with the Presence option.
	KindJoin
	// KindLeave says that a user left Event.Topic (Event.Change).
	KindLeave
)

// ErrTokenExpired is returned by Subscribe when the server ended the
// stream because its token expired and the client has no
// Config.TokenFunc to get a fresh one.
var ErrTokenExpired = errors.New("ssevents: the token expired (set Config.TokenFunc to reconnect with a fresh one)")

// String returns "event", "resync", "token_expired", "heartbeat",
// "presence", "join" or "leave".
func (k Kind) String() string {
	switch k {
	case KindHeartbeat:
		return "heartbeat"
	case KindResync:
		return "resync"
	case KindTokenExpired:
		return "token_expired"
	case KindPresence:
		return "presence"
	case KindJoin:
		return "join"
	case KindLeave:
		return "leave"
	}
	return "event"
}

// Event is one event received on a subscription.
type Event struct {
	// Kind is KindEvent, or KindResync or KindTokenExpired for the
	// server's notices.
	Kind Kind
	// ID is the event's id, the one a reconnection resumes after. It may
	// be empty for a resync sent before any event was published.
	ID string
	// Name is the event name (the `event:` field; "message" when the
	// server sent none).
	Name string
	// Topic is the topic the event was delivered on: the subscription's
	// only topic, or, on a subscription of several, the one the server
	// names in the event's topic field (an event published to several of
	// them is delivered once, on one of them). "" on a subscription of
	// several topics to a server that predates the field, and for
	// token_expired.
	Topic string
	// Topics, for KindResync, lists the topics to refetch: the one of
	// Resync.Topic (every subscribed topic from a server that names none).
	Topics []string
	// Resync, for KindResync, is the topic, the reason (history exceeded,
	// evicted, dataset changed) and the evidence the server sent; nil for
	// other kinds, and from a server that predates reasons.
	Resync *sse.Resync
	// Exp, for KindTokenExpired, is when the credentials expired.
	Exp time.Time
	// Presence, for KindPresence, is who is present on Topic.
	Presence *sse.PresenceSnapshot
	// Change, for KindJoin and KindLeave, is who joined or left Topic.
	Change *sse.PresenceEvent
	// Data is the event's JSON payload.
	Data json.RawMessage
}

// ConnState reports a change of a subscription's connection, to the
// function given with OnConnState.
type ConnState struct {
	// Connected is true when the server has accepted the stream, false
	// when a connection attempt failed or an open stream ended.
	Connected bool
	// Attempt counts the failed attempts in a row before this change: 0
	// for a connection that was healthy.
	Attempt int
	// Err says why the connection ended or failed (Connected false).
	Err error
	// RetryIn is the delay before the next attempt (Connected false);
	// zero when the subscription ends instead.
	RetryIn time.Duration
}

// SubscribeOption sets an optional parameter of Subscribe and Events.
type SubscribeOption func(*subscription)

// ResumeFrom makes the first connection send id as Last-Event-ID, so that
// the server replays the events after it (or sends a resync).
func ResumeFrom(id string) SubscribeOption {
	return func(s *subscription) { s.lastID = id }
}

// OnConnState calls fn, on the subscription's goroutine, whenever the
// connection is established, fails or ends. fn must not block for long.
func OnConnState(fn func(ConnState)) SubscribeOption {
	return func(s *subscription) { s.onState = fn }
}

// Heartbeats makes the subscription deliver the server's named heartbeat
// events, as Events of KindHeartbeat, instead of skipping them; a tool
// that shows a stream's liveness (ssevents tail) wants them.
func Heartbeats() SubscribeOption {
	return func(s *subscription) { s.heartbeats = true }
}
