package ssevents

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/settings"
	"github.com/ssevents/ssevents/sse"
)

// Setting declares one setting of Config: its SSE_* variable, flag, Go
// field, kind, default, allowed values and help. Its methods derive the
// flag (Flag), the help (DefaultText, AllowedText), reading the variable
// (Apply) and checking the field (Validate).
type Setting = settings.Setting[Config]

// secs is a duration's default as the variable writes it, in seconds.
func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// Settings declares every setting of Config that an SSE_* variable (and a
// flag of `ssevents serve`) sets, once: ConfigFromEnv reads them,
// Config.Validate checks their ranges, `ssevents serve -h` and the README
// list them.
var Settings = []Setting{
	settings.String(settings.Spec{Name: "SSE_REDIS_URL", Field: "BrokerURL", Default: DefaultBrokerURL,
		Usage:   "broker to fan out through",
		Allowed: "memory:// (embedded), redis://, rediss://, redis+sentinel://, redis+cluster:// URL", Check: sse.CheckBrokerURL},
		func(c *Config) *string { return &c.BrokerURL }),
	settings.Bool(settings.Spec{Name: "SSE_REDIS_CLASSIC_PUBSUB", Field: "RedisClassicPubSub", Default: "false",
		Usage: "on a Redis Cluster, also SUBSCRIBE the classic channels of topics, for publishers that PUBLISH (fastapi-sse-events)"}, false,
		func(c *Config) *bool { return &c.RedisClassicPubSub }),
	settings.String(settings.Spec{Name: "SSE_PATH", Field: "Path", Default: DefaultPath,
		Usage: "path of the SSE endpoint", Allowed: "a path starting with /", Check: checkPath},
		func(c *Config) *string { return &c.Path }),
	settings.String(settings.Spec{Name: "SSE_TOPIC_PREFIX", Field: "TopicPrefix",
		Usage: "namespace for topics in the broker", Allowed: "a topic name (letters, digits, _ - . : @ / = +)", Check: sse.ValidateTopic},
		func(c *Config) *string { return &c.TopicPrefix }),
	settings.Duration(settings.Spec{Name: "SSE_HEARTBEAT_SECONDS", Field: "HeartbeatInterval", Default: secs(DefaultHeartbeatInterval),
		Usage: "seconds between heartbeats on an idle stream", Min: int(MinHeartbeatInterval / time.Second), Max: int(MaxHeartbeatInterval / time.Second), Unit: "s"},
		func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
	settings.Bool(settings.Spec{Name: "SSE_HEARTBEAT_EVENT", Field: "HeartbeatEvent", Default: "false",
		Usage: "send heartbeats as named `heartbeat` events"}, false,
		func(c *Config) *bool { return &c.HeartbeatEvent }),
	settings.Int(settings.Spec{Name: "SSE_MAX_CONNECTIONS", Field: "MaxConnections", Default: hereDefault("open-file limit minus headroom", ProcessMaxConnections()),
		Usage: "streams per instance before 503 (unset: the open-file limit minus max(256, 5%), at most 1000000; 10000 where the limit cannot be read)",
		Min:   1, Max: MaxMaxConnections},
		func(c *Config) *int { return &c.MaxConnections }),
	settings.Int(settings.Spec{Name: "SSE_MAX_PENDING_AUTH", Field: "MaxPendingAuth",
		Default: hereDefault("max(16, max-connections/10)", max(MinMaxPendingAuth, ProcessMaxConnections()/10)),
		Usage:   "subscribe requests waiting for authorization before 503", Min: 1, Max: 1_000_000},
		func(c *Config) *int { return &c.MaxPendingAuth }),
	settings.Int(settings.Spec{Name: "SSE_MAX_QUEUE_SIZE", Field: "MaxQueueSize", Default: strconv.Itoa(DefaultMaxQueueSize),
		Usage: "events published after a client stopped reading before it is dropped", Min: 1, Max: 100_000},
		func(c *Config) *int { return &c.MaxQueueSize }),
	settings.Int(settings.Spec{Name: "SSE_MAX_QUEUE_BYTES", Field: "MaxQueueBytes", Default: strconv.Itoa(DefaultMaxQueueBytes),
		Usage: "bytes of events published after a client stopped reading, less what it read since, before it is dropped", Min: 1024, Max: 1 << 30, Unit: "bytes"},
		func(c *Config) *int { return &c.MaxQueueBytes }),
	settings.Bool(settings.Spec{Name: "SSE_POLLER", Field: "DisablePoller", Default: "true",
		Usage: "serve idle HTTP/1.x streams from a poller loop per core (Linux); false: a goroutine per stream"}, true,
		func(c *Config) *bool { return &c.DisablePoller }),
	settings.Int(settings.Spec{Name: "SSE_MAX_MESSAGE_SIZE", Field: "MaxMessageSize", Default: strconv.Itoa(DefaultMaxMessageSize),
		Usage: "largest event data", Min: 1, Max: 16 << 20, Unit: "bytes"},
		func(c *Config) *int { return &c.MaxMessageSize }),
	settings.Int(settings.Spec{Name: "SSE_MAX_TOPICS", Field: "MaxTopicsPerConnection", Default: strconv.Itoa(DefaultMaxTopicsPerConnection),
		Usage: "topics per connection", Min: 1, Max: 1000},
		func(c *Config) *int { return &c.MaxTopicsPerConnection }),
	settings.Int(settings.Spec{Name: "SSE_HISTORY_SIZE", Field: "HistorySize", Default: strconv.Itoa(DefaultHistorySize),
		Usage: "events kept per topic for resume", Min: 1, Max: 1_000_000},
		func(c *Config) *int { return &c.HistorySize }),
	settings.Duration(settings.Spec{Name: "SSE_HISTORY_SECONDS", Field: "HistoryAge", Default: secs(DefaultHistoryAge),
		Usage: "seconds events are kept for resume", Min: 1, Max: 7 * 24 * 3600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.HistoryAge }),
	settings.Int(settings.Spec{Name: "SSE_HISTORY_MAX_TOPICS", Field: "HistoryMaxTopics", Default: strconv.Itoa(DefaultHistoryMaxTopics),
		Usage: "topics whose history the embedded broker keeps; the least recently published lose it first", Min: 1, Max: 100_000_000},
		func(c *Config) *int { return &c.HistoryMaxTopics }),
	settings.Int(settings.Spec{Name: "SSE_HISTORY_MAX_BYTES", Field: "HistoryMaxBytes", Default: strconv.Itoa(DefaultHistoryMaxBytes),
		Usage: "estimated bytes of history the embedded broker keeps; the least recently published topics lose it first", Min: 1 << 20, Max: 1 << 40, Unit: "bytes"},
		func(c *Config) *int { return &c.HistoryMaxBytes }),
	settings.String(settings.Spec{Name: "SSE_DATA_DIR", Field: "DataDir",
		Usage: "directory where the embedded broker keeps its history across restarts (unset: in memory only)", Allowed: "a directory path"},
		func(c *Config) *string { return &c.DataDir }),
	settings.Enum(settings.Spec{Name: "SSE_FSYNC", Field: "Fsync", Default: string(sse.FsyncAlways),
		Usage:  "with SSE_DATA_DIR: when a publish's record reaches the disk (always: before it is answered, group commit; interval: every SSE_FSYNC_INTERVAL_MS; off: when the OS writes)",
		Values: []string{string(sse.FsyncAlways), string(sse.FsyncInterval), string(sse.FsyncOff)}},
		func(c *Config) *string { return &c.Fsync }),
	settings.Duration(settings.Spec{Name: "SSE_FSYNC_INTERVAL_MS", Field: "FsyncInterval", Default: strconv.Itoa(int(sse.DefaultFsyncInterval / time.Millisecond)),
		Usage: "with SSE_FSYNC=interval: milliseconds between syncs (a machine crash may lose that much)", Min: 1, Max: 60_000, Unit: "ms"},
		func(c *Config) *time.Duration { return &c.FsyncInterval }),
	settings.List(settings.Spec{Name: "SSE_PRESENCE", Field: "Presence",
		Usage:   "topics whose subscribers are tracked: who is present, join and leave events (unset: presence off)",
		Allowed: "comma-separated topic patterns (* matches any run of characters)", Check: sse.ValidatePattern},
		func(c *Config) *[]string { return &c.Presence }),
	settings.Duration(settings.Spec{Name: "SSE_PRESENCE_GRACE_SECONDS", Field: "PresenceGrace", Default: secs(sse.DefaultPresenceGrace), OffAtZero: true,
		Usage: "seconds a member stays after its last stream ended (a reconnect within them is no leave and no join; 0: it leaves at once)", Min: 0, Max: 3600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.PresenceGrace }),
	settings.Duration(settings.Spec{Name: "SSE_PRESENCE_TTL_SECONDS", Field: "PresenceTTL", Default: secs(sse.DefaultPresenceTTL),
		Usage: "seconds the members of an instance that died stay present on the others (Redis)", Min: 3, Max: 3600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.PresenceTTL }),
	settings.String(settings.Spec{Name: "SSE_PRESENCE_WEBHOOK_URL", Field: "PresenceWebhookURL",
		Usage: "URL that receives a signed POST of each join and leave, at least once per cluster", Allowed: "an http:// or https:// URL", Check: checkWebhookURL},
		func(c *Config) *string { return &c.PresenceWebhookURL }),
	settings.String(settings.Spec{Name: "SSE_PRESENCE_WEBHOOK_SECRET", Field: "PresenceWebhookSecret", Secret: true,
		Usage: "HMAC-SHA256 key of the presence webhook's SSE-Signature header", Allowed: fmt.Sprintf("at least %d bytes", MinPresenceWebhookSecret), Check: checkWebhookSecret},
		func(c *Config) *string { return &c.PresenceWebhookSecret }),
	settings.Duration(settings.Spec{Name: "SSE_RETRY_MS", Field: "Retry", Default: strconv.Itoa(int(DefaultRetry / time.Millisecond)),
		Usage: "reconnection delay sent to clients, each stream's drawn at random within ±20% of it", Min: 0, Max: 600_000, Unit: "ms"},
		func(c *Config) *time.Duration { return &c.Retry }),
	settings.Duration(settings.Spec{Name: "SSE_WRITE_TIMEOUT_SECONDS", Field: "WriteTimeout", Default: secs(DefaultWriteTimeout),
		Usage: "seconds one write to a client may take", Min: 1, Max: 600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.WriteTimeout }),
}

// hereDefault is the default text of a setting whose default is computed
// at start: the rule, then the value it gives in this process, as in
// "open-file limit minus headroom (19000 here)". The README shows the rule
// alone.
func hereDefault(rule string, here int) string { return fmt.Sprintf("%s (%d here)", rule, here) }

// checkPath accepts a path for the SSE endpoint: it starts with / and holds
// no blank or pattern brace.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " {}") {
		return errors.New("want a path starting with / (no blanks or braces)")
	}
	switch q := strings.TrimSuffix(p, "/"); {
	case q == "/presence", q == "/position", q == ClientJSPath, strings.HasPrefix(q, "/health"), strings.HasPrefix(q, "/metrics"):
		return fmt.Errorf("%s is a route of the app itself (/presence, /position, /ssevents.js, /health, /metrics): want another path", p)
	}
	return nil
}
