package ssevents

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Defaults for the zero fields of Config and BrokerOptions.
const (
	// DefaultPath is where the SSE endpoint is mounted (sse.DefaultPath).
	DefaultPath = sse.DefaultPath
	// DefaultHeartbeatInterval is how often an idle stream gets a comment
	// line (sse.DefaultHeartbeatInterval).
	DefaultHeartbeatInterval = sse.DefaultHeartbeatInterval
	// MinHeartbeatInterval and MaxHeartbeatInterval bound HeartbeatInterval.
	MinHeartbeatInterval = 5 * time.Second
	// MaxHeartbeatInterval is the longest heartbeat interval accepted.
	MaxHeartbeatInterval = 60 * time.Second
	// DefaultMaxConnections is the number of streams one instance serves
	// before it answers 503.
	DefaultMaxConnections = 10000
	// DefaultMaxQueueSize is the number of events that may wait for one
	// subscriber: a burst that size is absorbed while a write to a slow
	// network is in flight; a reader that stays further behind is
	// disconnected and resumes from history. The queue grows on demand, so
	// an idle connection holds no buffer.
	DefaultMaxQueueSize = sse.DefaultQueueSize
	// DefaultMaxMessageSize is the largest event data accepted, in bytes.
	DefaultMaxMessageSize = 64 << 10
	// DefaultMaxTopicsPerConnection caps the topics of one stream.
	DefaultMaxTopicsPerConnection = 32
	// DefaultHistorySize is the number of events kept per topic for resume.
	DefaultHistorySize = sse.DefaultHistorySize
	// DefaultHistoryAge is how long events are kept for resume.
	DefaultHistoryAge = sse.DefaultHistoryAge
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
	// RedisURL selects the broker when Broker is nil: "" is the embedded
	// broker, "redis://..." the Redis broker (its package must be
	// imported). Env: SSE_REDIS_URL.
	RedisURL string
	// Broker, when set, is used instead of opening RedisURL. The App does
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
	// Default DefaultMaxConnections (10000). Env: SSE_MAX_CONNECTIONS.
	MaxConnections int
	// MaxQueueSize bounds the events waiting for one connection. Default
	// DefaultMaxQueueSize (128). Env: SSE_MAX_QUEUE_SIZE.
	MaxQueueSize int
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
	// Retry is the reconnection delay sent to clients. Default
	// DefaultRetry (3 s). Env: SSE_RETRY_MS.
	Retry time.Duration
	// WriteTimeout bounds one write to a client. Default
	// DefaultWriteTimeout (10 s). Env: SSE_WRITE_TIMEOUT_SECONDS.
	WriteTimeout time.Duration
	// DisableHijack keeps streams on net/http's ResponseWriter instead of
	// taking HTTP/1.x connections over once they are authorized. Taking
	// them over cuts an idle stream's memory by about two thirds; keep it
	// unless a wrapper must see every byte of the stream. Default false.
	DisableHijack bool
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
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxQueueSize == 0 {
		c.MaxQueueSize = DefaultMaxQueueSize
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

// Validate reports the first field of c (after defaults) that is out of its
// allowed range, as an error wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, allowed string, v any) error {
		return fmt.Errorf("%w: %s is %v, allowed: %s", sse.ErrInvalidConfig, field, v, allowed)
	}
	switch {
	case !strings.HasPrefix(c.Path, "/"):
		return bad("Path", "a path starting with /", c.Path)
	case c.HeartbeatInterval < MinHeartbeatInterval || c.HeartbeatInterval > MaxHeartbeatInterval:
		return bad("HeartbeatInterval", "5s to 60s", c.HeartbeatInterval)
	case c.MaxConnections < 1:
		return bad("MaxConnections", "1 or more", c.MaxConnections)
	case c.MaxQueueSize < 1:
		return bad("MaxQueueSize", "1 or more", c.MaxQueueSize)
	case c.MaxMessageSize < 1:
		return bad("MaxMessageSize", "1 or more bytes", c.MaxMessageSize)
	case c.MaxTopicsPerConnection < 1:
		return bad("MaxTopicsPerConnection", "1 or more", c.MaxTopicsPerConnection)
	case c.HistorySize < 1:
		return bad("HistorySize", "1 or more", c.HistorySize)
	case c.HistoryAge < time.Second:
		return bad("HistoryAge", "1s or more", c.HistoryAge)
	case c.Retry < 0:
		return bad("Retry", "0 or more", c.Retry)
	case c.WriteTimeout < 0:
		return bad("WriteTimeout", "0 or more", c.WriteTimeout)
	}
	if c.TopicPrefix != "" {
		if err := sse.ValidateTopic(c.TopicPrefix); err != nil {
			return fmt.Errorf("%w: TopicPrefix: %w", sse.ErrInvalidConfig, err)
		}
	}
	return nil
}

// brokerOptions derives the broker's settings from c.
func (c Config) brokerOptions(m *Metrics) sse.BrokerOptions {
	return sse.BrokerOptions{
		HistorySize: c.HistorySize,
		HistoryAge:  c.HistoryAge,
		TopicPrefix: c.TopicPrefix,
		Logger:      c.Logger,
		Observer:    m,
	}
}

// EnvVar describes one SSE_* environment variable that ConfigFromEnv reads.
type EnvVar struct {
	// Name of the variable, e.g. "SSE_MAX_CONNECTIONS".
	Name string
	// Allowed describes the accepted values.
	Allowed string
	// Usage says what it sets.
	Usage string
	set   func(c *Config, v string) error
}

func intVar(name string, lo, hi int, usage string, f func(*Config) *int) EnvVar {
	return EnvVar{Name: name, Allowed: fmt.Sprintf("integer %d to %d", lo, hi), Usage: usage,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("%w: %s=%q: want an integer from %d to %d", sse.ErrInvalidConfig, name, v, lo, hi)
			}
			*f(c) = n
			return nil
		}}
}

func secondsVar(name string, lo, hi int, unit time.Duration, usage string, f func(*Config) *time.Duration) EnvVar {
	v := intVar(name, lo, hi, usage, nil)
	v.set = func(c *Config, s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%w: %s=%q: want an integer from %d to %d", sse.ErrInvalidConfig, name, s, lo, hi)
		}
		*f(c) = time.Duration(n) * unit
		return nil
	}
	return v
}

// EnvVars lists the variables ConfigFromEnv reads, with their allowed values.
var EnvVars = []EnvVar{
	{Name: "SSE_REDIS_URL", Allowed: `"" (embedded broker) or redis://, rediss://, redis+sentinel://, redis+cluster:// URL`,
		Usage: "broker to fan out through", set: func(c *Config, v string) error { c.RedisURL = strings.TrimSpace(v); return nil }},
	{Name: "SSE_PATH", Allowed: "a path starting with /", Usage: "path of the SSE endpoint",
		set: func(c *Config, v string) error {
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " {}") {
				return fmt.Errorf("%w: SSE_PATH=%q: want a path starting with /", sse.ErrInvalidConfig, v)
			}
			c.Path = v
			return nil
		}},
	{Name: "SSE_TOPIC_PREFIX", Allowed: "a topic name (letters, digits, _ - . : @ / = +)", Usage: "namespace for topics in Redis",
		set: func(c *Config, v string) error {
			if err := sse.ValidateTopic(v); err != nil {
				return fmt.Errorf("%w: SSE_TOPIC_PREFIX=%q: %w", sse.ErrInvalidConfig, v, err)
			}
			c.TopicPrefix = v
			return nil
		}},
	secondsVar("SSE_HEARTBEAT_SECONDS", 5, 60, time.Second, "seconds between heartbeats on an idle stream", func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
	{Name: "SSE_HEARTBEAT_EVENT", Allowed: "true or false", Usage: "send heartbeats as named `heartbeat` events",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%w: SSE_HEARTBEAT_EVENT=%q: want true or false", sse.ErrInvalidConfig, v)
			}
			c.HeartbeatEvent = b
			return nil
		}},
	intVar("SSE_MAX_CONNECTIONS", 1, 1_000_000, "streams per instance before 503", func(c *Config) *int { return &c.MaxConnections }),
	intVar("SSE_MAX_QUEUE_SIZE", 1, 100_000, "events waiting per connection before it is dropped", func(c *Config) *int { return &c.MaxQueueSize }),
	intVar("SSE_MAX_MESSAGE_SIZE", 1, 16<<20, "largest event data in bytes", func(c *Config) *int { return &c.MaxMessageSize }),
	intVar("SSE_MAX_TOPICS", 1, 1000, "topics per connection", func(c *Config) *int { return &c.MaxTopicsPerConnection }),
	intVar("SSE_HISTORY_SIZE", 1, 1_000_000, "events kept per topic for resume", func(c *Config) *int { return &c.HistorySize }),
	secondsVar("SSE_HISTORY_SECONDS", 1, 7*24*3600, time.Second, "seconds events are kept for resume", func(c *Config) *time.Duration { return &c.HistoryAge }),
	secondsVar("SSE_RETRY_MS", 0, 600_000, time.Millisecond, "reconnection delay sent to clients, in ms", func(c *Config) *time.Duration { return &c.Retry }),
	secondsVar("SSE_WRITE_TIMEOUT_SECONDS", 1, 600, time.Second, "seconds one write to a client may take", func(c *Config) *time.Duration { return &c.WriteTimeout }),
}

// ConfigFromEnv returns a Config filled from the SSE_* environment
// variables listed in EnvVars. An invalid value is an error that names the
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
func (c *Config) ApplyLookup(lookup func(string) (string, bool)) error {
	for _, v := range EnvVars {
		s, ok := lookup(v.Name)
		if !ok || (s == "" && v.Name != "SSE_REDIS_URL") {
			continue
		}
		if err := v.set(c, s); err != nil {
			return err
		}
	}
	return nil
}
