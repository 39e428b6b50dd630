package sse

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Presence event names, sent by ssevents itself on streams that ask for
// presence (?presence=true). Like EventResync, they are reserved: a
// publish may not use them.
const (
	// EventPresence carries a PresenceSnapshot of one tracked topic. A
	// stream that asks for presence gets one per tracked topic first,
	// and again after every reconnect: presence is not history.
	EventPresence = "presence"
	// EventJoin carries a PresenceEvent: a user became present on a topic.
	EventJoin = "join"
	// EventLeave carries a PresenceEvent: a user's last stream on a topic
	// ended more than the grace period ago.
	EventLeave = "leave"
)

// Defaults and limits of presence.
const (
	// DefaultPresenceGrace is how long a member stays after its last
	// stream ended: a reconnect within it is neither a leave nor a join.
	DefaultPresenceGrace = 10 * time.Second
	// DefaultPresenceTTL is how long the streams of an instance that
	// stopped refreshing them (it died) keep their members present on
	// the other instances.
	DefaultPresenceTTL = 30 * time.Second
	// MaxPresenceInfoBytes is the largest member info accepted, in bytes
	// of JSON.
	MaxPresenceInfoBytes = 1024
	// DefaultPresenceLimit is how many members a snapshot lists when the
	// caller does not say.
	DefaultPresenceLimit = 1000
)

// PresenceMember is a user present on a topic: one member however many
// streams (tabs, devices) it has open there.
type PresenceMember struct {
	// User identifies the member: a token's sub in the hub, or what the
	// application's Authorizer gave SetPresence. Never empty: anonymous
	// streams are counted, never listed.
	User string `json:"user"`
	// Connections is the member's open streams on the topic, on every
	// instance; 0 while the member is within its grace period.
	Connections int `json:"connections"`
	// Info is the member's info, a JSON object shown to the others (the
	// one of its most recent stream), or null.
	Info json.RawMessage `json:"info"`
}

// PresenceSnapshot is who is present on a topic now.
type PresenceSnapshot struct {
	// Topic is the topic.
	Topic string `json:"topic"`
	// Users is the number of members, listed or not.
	Users int `json:"users"`
	// Connections is the number of streams on the topic, anonymous ones
	// included.
	Connections int `json:"connections"`
	// Members lists up to the limit asked for, in no particular order;
	// never nil.
	Members []PresenceMember `json:"members"`
}

// PresenceEvent is a join or a leave: the data of the join and leave
// events of a stream, of the presence webhook and of OnPresence.
type PresenceEvent struct {
	// ID identifies the change, the same on every instance and on every
	// delivery of it: a receiver of the at-least-once webhook drops a
	// repeat by it.
	ID string `json:"id"`
	// Type is EventJoin or EventLeave.
	Type string `json:"type"`
	// Topic is the tracked topic.
	Topic string `json:"topic"`
	// User is the member who joined or left.
	User string `json:"user"`
	// Info is the member's info, or null.
	Info json.RawMessage `json:"info"`
	// Connections is the member's open streams on the topic after the
	// change (0 on a leave).
	Connections int `json:"connections"`
	// Time is when the change happened.
	Time time.Time `json:"time"`
}

// PresenceStore keeps who is present on the tracked topics: per topic, the
// members with their connection counts, across every instance that shares
// the store's backend. Its methods are safe for concurrent use.
//
// A member joins when its first stream on a topic starts anywhere and
// leaves Grace after its last one ended everywhere (a reconnect within it
// changes nothing), or TTL after the instance that held its streams
// stopped refreshing them (it died). Each join and leave is found by
// exactly one instance, and reaches every instance's Watch functions and,
// once per cluster at least, the outbox (Next, Ack).
type PresenceStore interface {
	// Add counts one more stream of user on topic; user "" is an
	// anonymous stream, counted in Connections, never listed. A non-nil
	// info replaces the member's. Add never waits on the network: a
	// store shared between instances syncs in the background, and keeps
	// the count when its backend is away.
	Add(topic, user string, info json.RawMessage)
	// Remove counts one stream of user on topic fewer: the undo of one Add.
	Remove(topic, user string)
	// Snapshot returns topic's exact counts and up to limit of its
	// members (limit <= 0: none). It costs O(1) for the counts and
	// O(limit) for the list, never a scan of the topic. A backend that
	// cannot be reached returns an error wrapping ErrUnavailable.
	Snapshot(ctx context.Context, topic string, limit int) (PresenceSnapshot, error)
	// Watch registers fn, called with every join and leave of every
	// instance, in the order of each topic, as this instance learns of
	// them. fn must not block.
	Watch(fn func(PresenceEvent))
	// Next waits until joins or leaves are due for delivery to the
	// application (PresenceOptions.Outbox) and returns up to max of them,
	// oldest first; it returns ctx's error when ctx is done first. What
	// it returns is handed out again, here or on another instance, until
	// Ack confirms it: each change reaches the application at least once
	// per cluster, not once per instance.
	Next(ctx context.Context, max int) ([]PresenceEvent, error)
	// Ack confirms that events returned by Next were delivered.
	Ack(ctx context.Context, events []PresenceEvent) error
	// Close stops the store. The streams it still counts are ended as a
	// restart ends them: their members stay for the grace period, so
	// that their reconnects (to a new process, or another instance)
	// are no churn.
	Close() error
}

// PresenceOptions are the settings a PresenceStore is opened with.
type PresenceOptions struct {
	// Grace is how long a member stays after its last stream ended; 0
	// means DefaultPresenceGrace.
	Grace time.Duration
	// TTL is how long an instance's streams count after it stopped
	// refreshing them; 0 means DefaultPresenceTTL. Shared stores refresh
	// every TTL/3.
	TTL time.Duration
	// Outbox asks the store to keep joins and leaves for Next and Ack;
	// without it Next blocks until ctx is done.
	Outbox bool
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
	// OnError, when set, is called once per failed operation against the
	// store's backend (for metrics).
	OnError func(error)
}

// WithDefaults returns o with its zero fields set to their defaults.
func (o PresenceOptions) WithDefaults() PresenceOptions {
	if o.Grace <= 0 {
		o.Grace = DefaultPresenceGrace
	}
	if o.TTL <= 0 {
		o.TTL = DefaultPresenceTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	return o
}

// PresenceBroker is implemented by brokers that keep presence: the
// embedded one and Redis. A broker without it still works; presence is
// then off (configuring it is an error at start).
type PresenceBroker interface {
	// Presence opens the broker's presence store. It is closed before
	// the broker.
	Presence(opts PresenceOptions) (PresenceStore, error)
}

// ValidatePresenceInfo checks member info: empty (none), or a JSON object
// of at most MaxPresenceInfoBytes.
func ValidatePresenceInfo(info json.RawMessage) error {
	if len(info) == 0 {
		return nil
	}
	if len(info) > MaxPresenceInfoBytes {
		return fmt.Errorf("%w: presence info is %d bytes, the limit is %d", ErrInvalidRequest, len(info), MaxPresenceInfoBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(info, &obj); err != nil || obj == nil {
		return fmt.Errorf("%w: presence info must be a JSON object", ErrInvalidRequest)
	}
	return nil
}
