package ssevents

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/settings"
	"github.com/ssevents/ssevents/sse"
)

// Defaults for the zero fields of Config and BrokerOptions.
const (
	// DefaultBrokerURL selects the embedded broker (package broker/memory).
	DefaultBrokerURL = "memory://"
	// DefaultPath is where the SSE endpoint is mounted (sse.DefaultPath).
	DefaultPath = sse.DefaultPath
	// DefaultHeartbeatInterval is how often an idle stream gets a comment
	// line (sse.DefaultHeartbeatInterval).
	DefaultHeartbeatInterval = sse.DefaultHeartbeatInterval
	// MinHeartbeatInterval and MaxHeartbeatInterval bound HeartbeatInterval.
	MinHeartbeatInterval = 5 * time.Second
	// MaxHeartbeatInterval is the longest heartbeat interval accepted.
	MaxHeartbeatInterval = 60 * time.Second
	// DefaultMaxConnections is the default MaxConnections where the
	// process's open-file limit cannot be read (a system without
	// RLIMIT_NOFILE); elsewhere the default follows that limit (see
	// ProcessMaxConnections).
	DefaultMaxConnections = 10000
	// MinMaxPendingAuth is the least default of MaxPendingAuth, whatever
	// MaxConnections: a small instance still lets a burst of subscribers
	// be authorized at once.
	MinMaxPendingAuth = 16
	// DefaultMaxQueueSize is the number of events that may wait for one
	// subscriber: a burst that size is absorbed while a write to a slow
	// network is in flight; a reader that stays further behind is
	// disconnected and resumes from history. The queue grows on demand, so
	// an idle connection holds no buffer.
	DefaultMaxQueueSize = sse.DefaultQueueSize
	// DefaultMaxQueueBytes is the number of bytes of events that may wait
	// for one connection (sse.DefaultQueueBytes, 1 MiB).
	DefaultMaxQueueBytes = sse.DefaultQueueBytes
	// DefaultMaxMessageSize is the largest event data accepted, in bytes.
	DefaultMaxMessageSize = 64 << 10
	// DefaultMaxTopicsPerConnection caps the topics of one stream.
	DefaultMaxTopicsPerConnection = 32
	// DefaultHistorySize is the number of events kept per topic for resume.
	DefaultHistorySize = sse.DefaultHistorySize
	// DefaultHistoryAge is how long events are kept for resume.
	DefaultHistoryAge = sse.DefaultHistoryAge
	// DefaultHistoryMaxTopics is the number of topics whose history the
	// embedded broker keeps (sse.DefaultHistoryMaxTopics).
	DefaultHistoryMaxTopics = sse.DefaultHistoryMaxTopics
	// DefaultHistoryMaxBytes is the estimated size of the history the
	// embedded broker keeps, 256 MiB (sse.DefaultHistoryMaxBytes).
	DefaultHistoryMaxBytes = sse.DefaultHistoryMaxBytes
	// DefaultRetry is the reconnection delay sent to browsers (`retry:`).
	DefaultRetry = 3 * time.Second
	// DefaultWriteTimeout bounds one write of a batch of events to a
	// client; a client that cannot take it in that time is disconnected.
	DefaultWriteTimeout = 10 * time.Second
)

// Config configures an App or a Handler. Every zero field means the default
// named in its comment. ConfigFromEnv fills it from SSE_* variables.
type Config struct {
	// Path of the SSE endpoint. Default DefaultPath ("/events").
	// Env: SSE_PATH.
	Path string
	// BrokerURL selects the broker when Broker is nil, by scheme:
	// "memory://" the embedded broker, "redis://", "rediss://",
	// "redis+sentinel://" or "redis+cluster://" the Redis broker (package
	// broker/redis must be imported), or any scheme registered with
	// sse.RegisterBroker. Default "memory://". Env: SSE_REDIS_URL (the
	// name fastapi-sse-events users know).
	BrokerURL string
	// RedisClassicPubSub, on a Redis Cluster, makes the instance also
	// SUBSCRIBE the classic Pub/Sub channel of each topic it has
	// subscribers for, over one connection to one node, so that
	// publishers that do a plain PUBLISH of fastapi-sse-events' envelope
	// (the Python library) reach its clients: the cluster's sharded
	// subscriptions do not see a PUBLISH. Those events are delivered as on
	// a single server: live, with their event name and data and no id.
	// On a single server or Sentinel every channel is classic already, and
	// this changes nothing. Default false. Env: SSE_REDIS_CLASSIC_PUBSUB
	// (sse.BrokerOptions.ClassicPubSub).
	RedisClassicPubSub bool
	// Broker, when set, is used instead of opening BrokerURL. The App does
	// not close a broker it was given.
	Broker sse.Broker
	// TopicPrefix namespaces topics in Redis ("prefix:topic").
	// Env: SSE_TOPIC_PREFIX.
	TopicPrefix string
	// HeartbeatInterval between heartbeats on an idle stream, 5 s to 60 s.
	// Default DefaultHeartbeatInterval (15 s). Env: SSE_HEARTBEAT_SECONDS.
	HeartbeatInterval time.Duration
	// HeartbeatEvent sends each heartbeat as a named `heartbeat` event
	// (data: {"time": ...}) instead of a comment line, for clients that
	// listen for it. Default false. Env: SSE_HEARTBEAT_EVENT.
	HeartbeatEvent bool
	// MaxConnections per instance; more are answered 503 with Retry-After.
	// Default ProcessMaxConnections(): the open-file limit minus a
	// headroom of max(256, 5%) for the hub's other files, so 19000 at a
	// limit of 20000, at most MaxMaxConnections, and DefaultMaxConnections
	// (10000) where the limit cannot be read. Env: SSE_MAX_CONNECTIONS.
	MaxConnections int
	// MaxPendingAuth bounds the subscribe requests waiting for Authorize
	// at once; more are answered 503 with Retry-After. A request takes its
	// connection slot (MaxConnections) only once authorized, so a slow
	// authorizer (a hanging webhook) fills this bound, not the instance.
	// Default max(MinMaxPendingAuth, MaxConnections/10) (1900 at the
	// default MaxConnections of an open-file limit of 20000): authorization is a short wait, so a tenth of
	// the streams arriving at once is a generous burst, while the bound
	// keeps a stuck authorizer from holding unbounded requests and their
	// goroutines. Env: SSE_MAX_PENDING_AUTH.
	MaxPendingAuth int
	// MaxQueueSize bounds the events waiting for one connection whose
	// client has stopped accepting output: those published since its
	// socket was full. Events that wait only because the server has not
	// written them yet do not count (see sse.Queue and
	// sse.LagQueueFactor). Default DefaultMaxQueueSize (128). Env:
	// SSE_MAX_QUEUE_SIZE.
	MaxQueueSize int
	// MaxQueueBytes bounds the bytes of those events as well, less what
	// the client read since it fell behind: a client that falls behind on
	// large events is dropped before its queue costs more. Default
	// DefaultMaxQueueBytes (1 MiB). Env: SSE_MAX_QUEUE_BYTES.
	MaxQueueBytes int
	// MaxMessageSize bounds event data in bytes. Default
	// DefaultMaxMessageSize (64 KiB). Env: SSE_MAX_MESSAGE_SIZE.
	MaxMessageSize int
	// MaxTopicsPerConnection caps the topics of one stream. Default
	// DefaultMaxTopicsPerConnection (32). Env: SSE_MAX_TOPICS.
	MaxTopicsPerConnection int
	// HistorySize is the number of events kept per topic for resume.
	// Default DefaultHistorySize (100). Env: SSE_HISTORY_SIZE.
	HistorySize int
	// HistoryAge is how long events are kept for resume. Default
	// DefaultHistoryAge (5 min). Env: SSE_HISTORY_SECONDS.
	HistoryAge time.Duration
	// HistoryMaxTopics bounds the topics whose history the embedded broker
	// keeps: past it, the topic published to least recently loses its
	// history (a client resuming on it gets a resync event for it; its
	// open streams keep receiving live events). With Redis it bounds
	// nothing: history is in Redis, and an instance keeps state only for
	// topics with local subscribers. Default DefaultHistoryMaxTopics
	// (100000). Env: SSE_HISTORY_MAX_TOPICS.
	HistoryMaxTopics int
	// DataDir makes the embedded broker keep its history, its dataset
	// identity and its idempotency records in this directory (created if
	// missing), so that a restart resumes every stream without a resync.
	// One process at a time: a second one on the same directory fails at
	// once. The directory stays within about 2 × HistoryMaxBytes (see
	// memory.Open). Refused with any other broker (Redis keeps history
	// itself). Default "": in memory only. Env: SSE_DATA_DIR.
	DataDir string
	// Fsync says when a publish's record in DataDir reaches the disk:
	// "always" (the default: a publish is answered once its record is
	// synced, concurrent publishes sharing one fsync), "interval" (synced
	// every FsyncInterval: a machine crash may lose the last interval's
	// acknowledged publishes, a process crash none) or "off" (the
	// operating system writes when it will). Env: SSE_FSYNC
	// (sse.FsyncMode).
	Fsync string
	// FsyncInterval is how often "interval" syncs. Default
	// sse.DefaultFsyncInterval (200 ms). Env: SSE_FSYNC_INTERVAL_MS.
	FsyncInterval time.Duration
	// HistoryMaxBytes bounds the estimated bytes of the history the
	// embedded broker keeps, topics evicted as for HistoryMaxTopics (see
	// memory.EventBytes and memory.TopicBytes for the estimate; the
	// process's heap may take up to about twice as much before the
	// garbage collector runs, see GOMEMLIMIT). Default
	// DefaultHistoryMaxBytes (256 MiB). Env: SSE_HISTORY_MAX_BYTES.
	HistoryMaxBytes int
	// Retry is the reconnection delay sent to clients (retry:). Each
	// stream gets its own value, drawn uniformly within ±20% of Retry (3 s
	// gives 2.4 to 3.6 s, in whole ms), so that streams ended together (a
	// restart) do not all come back at once. Default DefaultRetry (3 s).
	// Env: SSE_RETRY_MS.
	Retry time.Duration
	// WriteTimeout bounds one write to a client. Default
	// DefaultWriteTimeout (10 s). Env: SSE_WRITE_TIMEOUT_SECONDS.
	WriteTimeout time.Duration
	// DisableHijack keeps streams on net/http's ResponseWriter instead of
	// taking HTTP/1.x connections over once they are authorized. Taking
	// them over cuts an idle stream's memory by about two thirds; keep it
	// unless a wrapper must see every byte of the stream. Default false.
	DisableHijack bool
	// DisablePoller serves each taken-over HTTP/1.x stream from a
	// goroutine of its own, as on systems other than Linux and for
	// streams that cannot be taken over (HTTP/2, TLS served by the
	// process itself, DisableHijack). By default on Linux, a stream, once
	// authorized, subscribed and caught up, is handed to a poller: a loop
	// per core writes events to every socket without blocking, so an idle
	// stream holds no goroutine and no buffer. Default false. Env:
	// SSE_POLLER=false.
	DisablePoller bool
	// Presence are topic patterns (exact names, or globs where * matches
	// any run of characters, as the hub's) whose subscribers are tracked:
	// who is present (GET /presence, App.Presence), join and leave events
	// for streams that ask (?presence=true), OnPresence and the presence
	// webhook. A stream's user is what its Authorizer gave SetPresence;
	// without it the stream is anonymous (counted, never listed). Needs a
	// broker that keeps presence (sse.PresenceBroker: the embedded one and
	// Redis). Default: none, presence off and costing nothing.
	// Env: SSE_PRESENCE.
	Presence []string
	// PresenceGrace is how long a member stays after its last stream
	// ended: a reconnect within it is neither a leave nor a join; negative:
	// none, a member leaves as its last stream ends. Default
	// sse.DefaultPresenceGrace (10 s). Env: SSE_PRESENCE_GRACE_SECONDS
	// (0: none).
	PresenceGrace time.Duration
	// PresenceTTL is how long the members of an instance that died stay
	// present on the others (Redis). Default sse.DefaultPresenceTTL
	// (30 s). Env: SSE_PRESENCE_TTL_SECONDS.
	PresenceTTL time.Duration
	// PresenceWebhookURL receives a POST of each join and leave (an
	// sse.PresenceEvent as JSON), signed with PresenceWebhookSecret,
	// retried with backoff until it answers 2xx: at least once per
	// cluster, not once per instance. Default: none.
	// Env: SSE_PRESENCE_WEBHOOK_URL.
	PresenceWebhookURL string
	// PresenceWebhookSecret signs the webhook's requests: the header
	// SSE-Signature is "sha256=" and the hex HMAC-SHA256 of the body with
	// it. At least 16 bytes; required with PresenceWebhookURL.
	// Env: SSE_PRESENCE_WEBHOOK_SECRET.
	PresenceWebhookSecret string
	// Authorize, when set, is asked once per subscribe request about all
	// its topics (see Authorizer; AuthorizeEachTopic adapts a per-topic
	// rule). Default: every topic is allowed.
	Authorize Authorizer
	// Logger receives logs; default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.BrokerURL == "" && c.Broker == nil {
		c.BrokerURL = DefaultBrokerURL
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = ProcessMaxConnections()
	}
	if c.MaxPendingAuth == 0 {
		c.MaxPendingAuth = max(MinMaxPendingAuth, c.MaxConnections/10)
	}
	if c.MaxQueueSize == 0 {
		c.MaxQueueSize = DefaultMaxQueueSize
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxTopicsPerConnection == 0 {
		c.MaxTopicsPerConnection = DefaultMaxTopicsPerConnection
	}
	if c.HistorySize == 0 {
		c.HistorySize = DefaultHistorySize
	}
	if c.HistoryAge == 0 {
		c.HistoryAge = DefaultHistoryAge
	}
	if c.HistoryMaxTopics == 0 {
		c.HistoryMaxTopics = DefaultHistoryMaxTopics
	}
	if c.HistoryMaxBytes == 0 {
		c.HistoryMaxBytes = DefaultHistoryMaxBytes
	}
	if c.Fsync == "" {
		c.Fsync = string(sse.FsyncAlways)
	}
	if c.FsyncInterval == 0 {
		c.FsyncInterval = sse.DefaultFsyncInterval
	}
	if c.PresenceGrace == 0 {
		c.PresenceGrace = sse.DefaultPresenceGrace
	}
	if c.PresenceTTL == 0 {
		c.PresenceTTL = sse.DefaultPresenceTTL
	}
	if c.Retry == 0 {
		c.Retry = DefaultRetry
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first field of c (after defaults) that is out of the
// range its setting in Settings declares, as an error wrapping
// ErrInvalidConfig that names the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.checkDataDir(); err != nil {
		return err
	}
	if err := c.checkPresence(); err != nil {
		return err
	}
	return settings.Validate(&c, Settings)
}

// checkDataDir refuses a data directory with a broker other than the
// embedded one.
func (c Config) checkDataDir() error {
	if c.DataDir == "" {
		return nil
	}
	if c.Broker != nil || !isMemoryURL(c.BrokerURL) {
		return fmt.Errorf("%w: SSE_DATA_DIR (DataDir) keeps the embedded broker's history on disk, but the broker is %s, which keeps its own history: unset one of them",
			sse.ErrInvalidConfig, brokerName(c))
	}
	return nil
}

// isMemoryURL reports whether u selects the embedded broker.
func isMemoryURL(u string) bool { return u == "" || strings.HasPrefix(u, "memory:") }

// brokerName names c's broker for an error message, without credentials.
func brokerName(c Config) string {
	if c.Broker != nil {
		return "the one given in Config.Broker"
	}
	if scheme, _, ok := strings.Cut(c.BrokerURL, "://"); ok {
		return scheme + "://"
	}
	return "not the embedded one"
}

// brokerOptions derives the broker's settings from c.
func (c Config) brokerOptions(m *Metrics) sse.BrokerOptions {
	return sse.BrokerOptions{
		HistorySize:      c.HistorySize,
		HistoryAge:       c.HistoryAge,
		HistoryMaxTopics: c.HistoryMaxTopics,
		HistoryMaxBytes:  c.HistoryMaxBytes,
		DataDir:          c.DataDir,
		Fsync:            sse.FsyncMode(c.Fsync),
		FsyncInterval:    c.FsyncInterval,
		TopicPrefix:      c.TopicPrefix,
		ClassicPubSub:    c.RedisClassicPubSub,
		Logger:           c.Logger,
		Observer:         m,
	}
}

// ConfigFromEnv returns a Config filled from the SSE_* environment
// variables listed in Settings. An invalid value is an error that names the
// variable and its allowed range.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv with another source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	if err := c.ApplyLookup(lookup); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ApplyLookup sets the fields of c for which lookup has an SSE_* variable,
// leaving the others as they are.
// An empty variable counts as unset. An invalid value is an error wrapping
// ErrInvalidConfig that names the variable and its allowed values.
func (c *Config) ApplyLookup(lookup func(string) (string, bool)) error {
	return settings.ApplyLookup(c, Settings, lookup)
}
