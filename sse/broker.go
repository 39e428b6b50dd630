package sse

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Broker moves events from publishers to subscribers and keeps a bounded
// history per topic so that subscribers can resume after a disconnect.
//
// Implementations are safe for concurrent use. After Close, Publish and
// Subscribe return ErrBrokerClosed and every open Subscription ends with
// ErrBrokerClosed.
type Broker interface {
	// Publish stores msg in the history of each of its topics and delivers
	// it to their subscribers. It returns the event's id. A backend that
	// cannot be reached returns an error wrapping ErrUnavailable; the
	// message is then not published. A publish that reached the backend,
	// or may have, without an answer (the connection broke or timed out
	// before the reply) returns an error wrapping ErrOutcomeUnknown: the
	// message may have been published; sending it again with the same
	// IdempotencyKey settles it. Publish never waits for subscribers:
	// a slow one is ended with ErrSlowConsumer instead.
	Publish(ctx context.Context, msg Message) (id string, err error)
	// Subscribe starts a subscription to req.Topics. It lives until ctx is
	// done or Close is called. When req.LastEventID is set, the
	// subscription's Backlog holds the events published after it. A
	// backend that cannot be reached returns an error wrapping
	// ErrUnavailable.
	Subscribe(ctx context.Context, req SubscribeRequest) (Subscription, error)
	// Ready returns nil when the broker can publish and deliver now.
	Ready(ctx context.Context) error
	// Close ends every subscription and releases the broker's resources.
	Close() error
}

// SubscribeRequest describes a subscription.
type SubscribeRequest struct {
	// Topics to receive events from; validated by the caller.
	Topics []string
	// LastEventID is the id of the last event the subscriber received, or
	// "" to receive only new events.
	LastEventID string
	// QueueSize bounds the events waiting for the subscriber; 0 means
	// DefaultQueueSize. When it overflows, the subscription ends with
	// ErrSlowConsumer.
	QueueSize int
	// OnDrop, when set, is called with the number of events dropped when
	// the subscription's queue overflows (for metrics).
	OnDrop func(n int)
	// QueueBytes bounds the bytes of the events waiting for the subscriber
	// (Event.Size) as well; 0 means DefaultQueueBytes. The first event into
	// an empty queue is always accepted.
	QueueBytes int
}

// Waker is implemented by subscriptions that can call a function, instead
// of signalling Notify, when events are waiting or the subscription has
// ended. The SSE handler serves such a subscription without a goroutine of
// its own (see Queue.SetWake); it falls back to Notify for those that do
// not implement it. The brokers of this module implement it.
type Waker interface {
	// SetWake registers fn, called when events are waiting or the
	// subscription has ended, at once if that is already the case. fn
	// must not block; it is called from the broker's fan-out.
	SetWake(fn func())
}

// Unaccepting is implemented by subscriptions whose queue judges a client
// by what it has not accepted (see Queue): the SSE handler tells it, on
// every I/O path, when the client's connection is full and when it has
// drained, so that only the client's own slowness, never the server's lag,
// ends the subscription with ErrSlowConsumer. The brokers of this module
// implement it through their Queue. Its methods are safe for concurrent
// use.
type Unaccepting interface {
	// SetUnaccepted reports the bytes written to the client that it has
	// not accepted: > 0 while its connection is full, 0 once it drained.
	SetUnaccepted(n int)
	// SetAccepting registers a probe of whether the client's connection
	// took output since it was last found full, or takes output now,
	// asked before a client behind is ended as slow.
	SetAccepting(fn func() bool)
	// Err returns the error that ended the subscription, or nil while it
	// is open; unlike Drain it takes no event.
	Err() error
}

// Backlog is what a subscriber missed since its LastEventID.
type Backlog struct {
	// Events published after LastEventID on the subscribed topics, each
	// once, in publish order.
	Events []Event
	// Resync lists the topics whose history does not reach back to
	// LastEventID (or all topics when the id is unknown), each once, with
	// the reason: events may have been missed there, and the subscriber
	// should refetch their state.
	Resync []Resync
	// Cursor, when set, is an id that stands for "caught up to now": the
	// SSE handler sends it as the id of the resync event, so that a client
	// that resumes again from it is not told to resync a second time.
	Cursor string
}

// Subscription is one subscriber's stream of events. Its methods are safe
// for concurrent use. Drain after the subscription ended returns the error
// that ended it.
type Subscription interface {
	// Backlog returns the events missed since the request's LastEventID,
	// fixed when the subscription started. Live events that follow are
	// never part of it, and never repeat it.
	Backlog() Backlog
	// Notify returns a channel that receives a value when events are
	// waiting or the subscription has ended.
	Notify() <-chan struct{}
	// Drain appends the waiting events to dst and returns it. Once the
	// subscription has ended, it returns the reason: ErrSlowConsumer,
	// ErrBrokerClosed or the context's error.
	Drain(dst []Event) ([]Event, error)
	// Close ends the subscription and frees its resources. It is
	// idempotent.
	Close() error
}

// BrokerOptions are the settings a broker is opened with.
type BrokerOptions struct {
	// HistorySize is the number of events kept per topic for resume;
	// 0 means DefaultHistorySize.
	HistorySize int
	// HistoryAge is how long events are kept for resume; 0 means
	// DefaultHistoryAge.
	HistoryAge time.Duration
	// HistoryMaxTopics bounds the topics whose history the broker keeps
	// in its own memory; 0 means DefaultHistoryMaxTopics. Past it, the
	// topic published to least recently loses its history (a subscriber
	// that resumes on it gets a resync for it); subscribers of an evicted
	// topic keep receiving its live events. The embedded broker applies
	// it to its history; the Redis broker keeps history in Redis and
	// state only for topics with local subscribers, so it does not need
	// it.
	HistoryMaxTopics int
	// HistoryMaxBytes bounds the estimated bytes of the history the
	// broker keeps in its own memory; 0 means DefaultHistoryMaxBytes.
	// Past it, topics are evicted as for HistoryMaxTopics, least recently
	// published first (and when one topic alone is over it, its oldest
	// events go). Each event is counted as the length of its data, name
	// and id plus a fixed overhead, and each topic as the length of its
	// name plus a fixed overhead (the embedded broker documents both).
	HistoryMaxBytes int
	// IdempotencyMaxRecords bounds the idempotency records (one per
	// publish with an idempotency key, kept HistoryAge) the broker keeps
	// in its own memory; 0 means DefaultIdempotencyMaxRecords. Past it,
	// the oldest record is forgotten first: a retry of that publish
	// publishes anew.
	IdempotencyMaxRecords int
	// TopicPrefix is prepended (with a colon) to topics in the backend's
	// key space, so several applications can share one Redis.
	TopicPrefix string
	// ClassicPubSub makes a broker whose fan-out is sharded (the Redis
	// broker on a Redis Cluster, which uses SSUBSCRIBE) also listen on the
	// classic Pub/Sub channel of every topic with local subscribers, so
	// that publishers doing a plain PUBLISH of fastapi-sse-events'
	// envelope (the Python library) reach its subscribers. Brokers whose
	// channels are classic already (one Redis server, Sentinel) and the
	// embedded broker ignore it. Default false.
	ClassicPubSub bool
	// DataDir, when set, makes the embedded broker keep its history, its
	// dataset identity and its idempotency records in this directory, so
	// that they survive a restart (see package broker/memory). One process
	// at a time may use a directory. A broker that keeps history elsewhere
	// (Redis) refuses it. Empty (the default): in memory only.
	DataDir string
	// Fsync says when the embedded broker's writes to DataDir reach the
	// disk: FsyncAlways (the default), FsyncInterval or FsyncOff.
	Fsync FsyncMode
	// FsyncInterval is how often the writes are synced with FsyncInterval;
	// 0 means DefaultFsyncInterval.
	FsyncInterval time.Duration
	// Logger receives the broker's logs; nil means slog.Default().
	Logger *slog.Logger
	// Observer is told of the broker's errors and reconnections (the
	// server counts them in its metrics); nil means none.
	Observer Observer
}

// Observer receives what a broker reports for metrics. Its methods are
// safe for concurrent use and return at once.
type Observer interface {
	// BrokerError is called for every failed operation against the
	// backend (a publish, a subscribe, a lost connection).
	BrokerError()
	// BrokerReconnect is called when a lost backend connection is back.
	BrokerReconnect()
}

// EnvelopeObserver is an Observer that is also told of every message a
// broker read from its backend's channels and dropped because it is not an
// event envelope it can deliver (not JSON, no valid event name, a reserved
// event name): a foreign publisher's mistake, not a backend fault, so it
// is reported here and not as a BrokerError. A broker calls
// EnvelopeMalformed when its Observer implements this interface. Its
// methods are safe for concurrent use and return at once.
type EnvelopeObserver interface {
	Observer
	// EnvelopeMalformed is called for every malformed message dropped.
	EnvelopeMalformed()
}

// nopObserver is the Observer of brokers opened without one.
type nopObserver struct{}

func (nopObserver) BrokerError()     {}
func (nopObserver) BrokerReconnect() {}

// Defaults of BrokerOptions and SubscribeRequest.
const (
	// DefaultHistorySize is the number of events kept per topic.
	DefaultHistorySize = 100
	// DefaultHistoryAge is how long events are kept for resume.
	DefaultHistoryAge = 5 * time.Minute
	// DefaultHistoryMaxTopics is the number of topics whose history a
	// broker keeps in its memory: a hundred thousand topics of a few 1 KB
	// events each fit in DefaultHistoryMaxBytes.
	DefaultHistoryMaxTopics = 100_000
	// DefaultHistoryMaxBytes is the estimated size of the history a broker
	// keeps in its memory, 256 MiB.
	DefaultHistoryMaxBytes = 256 << 20
	// DefaultIdempotencyMaxRecords is the number of idempotency records a
	// broker keeps in its memory: a hundred thousand publishes with a key
	// within the history age, a few tens of MB at most.
	DefaultIdempotencyMaxRecords = 100_000
	// DefaultQueueSize bounds the events waiting for one subscriber: a
	// burst of a hundred events fits, and a client that falls further
	// behind is better off resuming from history.
	DefaultQueueSize = 128
	// DefaultQueueBytes bounds the bytes waiting for one subscriber: the
	// default queue of small notifications is far below it, a burst of
	// large events ends the subscription before it costs more.
	DefaultQueueBytes = 1 << 20
)

func (o BrokerOptions) withDefaults() BrokerOptions {
	if o.Fsync == "" {
		o.Fsync = FsyncAlways
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = DefaultFsyncInterval
	}
	if o.HistorySize == 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.HistoryAge == 0 {
		o.HistoryAge = DefaultHistoryAge
	}
	if o.HistoryMaxTopics == 0 {
		o.HistoryMaxTopics = DefaultHistoryMaxTopics
	}
	if o.HistoryMaxBytes == 0 {
		o.HistoryMaxBytes = DefaultHistoryMaxBytes
	}
	if o.IdempotencyMaxRecords == 0 {
		o.IdempotencyMaxRecords = DefaultIdempotencyMaxRecords
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}

// WithDefaults returns o with every zero field set to its default (a nil
// Observer becomes one that does nothing). Brokers call it when opened.
func (o BrokerOptions) WithDefaults() BrokerOptions { return o.withDefaults() }

// OpenFunc opens a broker for a URL of the scheme it was registered for.
type OpenFunc func(ctx context.Context, u *url.URL, opts BrokerOptions) (Broker, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]OpenFunc{}
)

// RegisterBroker makes a broker available under a URL scheme ("redis",
// "rediss", ...), the way database/sql drivers register. Broker packages
// call it from init. It panics if the scheme is registered twice.
func RegisterBroker(scheme string, open OpenFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("sse: RegisterBroker called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// OpenBroker opens the broker for rawURL, by its scheme. An empty URL
// means "memory://", the embedded broker (package broker/memory, which the
// ssevents server package imports); other schemes need their package
// imported (for Redis: import _ "github.com/ssevents/ssevents/broker/redis").
// A URL it cannot open is an error as CheckBrokerURL describes, or the
// broker's own.
func OpenBroker(ctx context.Context, rawURL string, opts BrokerOptions) (Broker, error) {
	opts = opts.withDefaults()
	if rawURL == "" {
		rawURL = "memory://"
	}
	u, open, err := lookupBroker(rawURL)
	if err != nil {
		return nil, err
	}
	return open(ctx, u, opts)
}

// CheckBrokerURL reports whether OpenBroker has a broker for rawURL's
// scheme, without opening it: nil, or an error wrapping ErrInvalidConfig
// (rawURL is not a URL) or ErrUnknownBroker (no broker is registered for
// its scheme; the message lists the schemes that have one, as in
// `"http"; accepted: memory://, redis://, ...`). An empty URL is
// "memory://". The error never shows a password of the URL.
func CheckBrokerURL(rawURL string) error {
	if rawURL == "" {
		rawURL = "memory://"
	}
	_, _, err := lookupBroker(rawURL)
	return err
}

// BrokerSchemes returns the URL schemes brokers are registered for
// (RegisterBroker), sorted: "memory", "redis", "redis+cluster", ...
func BrokerSchemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	schemes := make([]string, 0, len(registry))
	for s := range registry {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	return schemes
}

// lookupBroker parses rawURL and finds the opener of its scheme.
func lookupBroker(rawURL string) (*url.URL, OpenFunc, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, nil, fmt.Errorf("%w: broker URL %q is not a URL (want scheme://...; accepted schemes: %s)",
			ErrInvalidConfig, redact(rawURL), acceptedSchemes())
	}
	registryMu.RLock()
	open, ok := registry[strings.ToLower(u.Scheme)]
	registryMu.RUnlock()
	if !ok {
		hint := ""
		switch {
		case strings.HasPrefix(u.Scheme, "redis"):
			hint = ` (add import _ "github.com/ssevents/ssevents/broker/redis")`
		case u.Scheme == "memory":
			hint = ` (add import _ "github.com/ssevents/ssevents/broker/memory")`
		}
		return nil, nil, fmt.Errorf("%w %q; accepted: %s%s", ErrUnknownBroker, u.Scheme, acceptedSchemes(), hint)
	}
	return u, open, nil
}

// acceptedSchemes lists the registered schemes as URL prefixes:
// "memory://, redis://, ...", or "none" when no broker is registered.
func acceptedSchemes() string {
	schemes := BrokerSchemes()
	if len(schemes) == 0 {
		return "none (import a broker package)"
	}
	for i, s := range schemes {
		schemes[i] = s + "://"
	}
	return strings.Join(schemes, ", ")
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…@" + raw[i+1:]
		}
		return raw
	}
	return u.Redacted()
}
