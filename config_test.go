package ssevents_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"SSE_REDIS_URL":          "",
		"SSE_HEARTBEAT_SECONDS":  "30",
		"SSE_HEARTBEAT_EVENT":    "true",
		"SSE_PATH":               "/stream",
		"SSE_TOPIC_PREFIX":       "crm",
		"SSE_MAX_CONNECTIONS":    "500",
		"SSE_MAX_QUEUE_SIZE":     "50",
		"SSE_MAX_MESSAGE_SIZE":   "32768",
		"SSE_HISTORY_SIZE":       "10",
		"SSE_HISTORY_SECONDS":    "60",
		"SSE_HISTORY_MAX_TOPICS": "2000",
		"SSE_HISTORY_MAX_BYTES":  "1048576",
	}
	cfg, err := ssevents.ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := ssevents.Config{
		HeartbeatInterval: 30 * time.Second, HeartbeatEvent: true, Path: "/stream", TopicPrefix: "crm",
		MaxConnections: 500, MaxQueueSize: 50, MaxMessageSize: 32768, HistorySize: 10, HistoryAge: time.Minute,
		HistoryMaxTopics: 2000, HistoryMaxBytes: 1 << 20,
	}
	if cfg.HeartbeatInterval != want.HeartbeatInterval || cfg.HeartbeatEvent != want.HeartbeatEvent ||
		cfg.Path != want.Path || cfg.TopicPrefix != want.TopicPrefix || cfg.MaxConnections != want.MaxConnections ||
		cfg.MaxQueueSize != want.MaxQueueSize || cfg.MaxMessageSize != want.MaxMessageSize ||
		cfg.HistorySize != want.HistorySize || cfg.HistoryAge != want.HistoryAge ||
		cfg.HistoryMaxTopics != want.HistoryMaxTopics || cfg.HistoryMaxBytes != want.HistoryMaxBytes {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnvInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"SSE_HEARTBEAT_SECONDS", "4", "5 to 60"},
		{"SSE_HEARTBEAT_SECONDS", "61", "5 to 60"},
		{"SSE_HEARTBEAT_SECONDS", "ten", "5 to 60"},
		{"SSE_MAX_CONNECTIONS", "0", "1 to 1000000"},
		{"SSE_MAX_CONNECTIONS", "-5", "1 to 1000000"},
		{"SSE_MAX_QUEUE_SIZE", "0", "1 to 100000"},
		{"SSE_MAX_MESSAGE_SIZE", "99999999999", "1 to 16777216"},
		{"SSE_HISTORY_SIZE", "0", "1 to 1000000"},
		{"SSE_HISTORY_SECONDS", "x", "1 to 604800"},
		{"SSE_HISTORY_MAX_TOPICS", "0", "1 to 100000000"},
		{"SSE_HISTORY_MAX_BYTES", "1000", "1048576 to 1099511627776"},
		{"SSE_PATH", "events", "starting with /"},
		{"SSE_TOPIC_PREFIX", "a b", "SSE_TOPIC_PREFIX"},
		{"SSE_HEARTBEAT_EVENT", "maybe", "true or false"},
		{"SSE_RETRY_MS", "600001", "0 to 600000"},
		{"SSE_WRITE_TIMEOUT_SECONDS", "1s", "1 to 600"},
		{"SSE_MAX_TOPICS", "1001", "1 to 1000"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			_, err := ssevents.ConfigFromLookup(func(k string) (string, bool) {
				if k == tc.name {
					return tc.value, true
				}
				return "", false
			})
			if !errors.Is(err, sse.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %s and %q", err, tc.name, tc.want)
			}
		})
	}
}

func TestConfigValidateAndDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  ssevents.Config
		want string
	}{
		{"heartbeat too short", ssevents.Config{HeartbeatInterval: time.Second}, "HeartbeatInterval"},
		{"heartbeat too long", ssevents.Config{HeartbeatInterval: 2 * time.Minute}, "HeartbeatInterval"},
		{"negative connections", ssevents.Config{MaxConnections: -1}, "MaxConnections"},
		{"path", ssevents.Config{Path: "events"}, "Path"},
		{"queue above its variable's range", ssevents.Config{MaxQueueSize: 100_001}, "MaxQueueSize is 100001"},
		{"retry above its variable's range", ssevents.Config{Retry: 11 * time.Minute}, "Retry is 11m0s"},
		{"bad topic prefix", ssevents.Config{TopicPrefix: "a b"}, "TopicPrefix"},
		{"negative history topics", ssevents.Config{HistoryMaxTopics: -1}, "HistoryMaxTopics"},
		{"history bytes below 1 MiB", ssevents.Config{HistoryMaxBytes: 4096}, "HistoryMaxBytes is 4096"},
		{"unknown broker", ssevents.Config{BrokerURL: "nats://127.0.0.1:4222"}, "nats"},
		{"redis without its package", ssevents.Config{BrokerURL: "redis://127.0.0.1:6379/0"}, "broker/redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app, err := ssevents.New(tc.cfg)
			if err == nil {
				app.Close()
				t.Fatalf("New accepted %+v", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	c := app.Config()
	if c.Path != "/events" || c.HeartbeatInterval != 15*time.Second || c.MaxConnections != ssevents.ProcessMaxConnections() ||
		c.MaxQueueSize != ssevents.DefaultMaxQueueSize || c.MaxMessageSize != ssevents.DefaultMaxMessageSize ||
		c.HistorySize != sse.DefaultHistorySize || c.HistoryAge != sse.DefaultHistoryAge ||
		c.HistoryMaxTopics != 100_000 || c.HistoryMaxBytes != 268435456 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// hereValue finds the value of a computed default, "rule (19000 here)".
var hereValue = regexp.MustCompile(`^.+ \((\d+) here\)$`)

// Every declared default, given as its variable, yields the Config that
// the zero Config gets from its defaults: the table and the Default*
// constants cannot disagree.
func TestSettings_defaultsAreConfigDefaults(t *testing.T) {
	t.Parallel()
	zero, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zero.Close() })
	want := zero.Config()
	want.Logger = nil
	for _, s := range ssevents.Settings {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if s.Default == "" {
				return // no default: the zero value (TopicPrefix)
			}
			value := s.Default // or, for a computed default, its value here
			if m := hereValue.FindStringSubmatch(value); m != nil {
				value = m[1]
			}
			cfg, err := ssevents.ConfigFromLookup(func(k string) (string, bool) { return value, k == s.Name })
			if err != nil {
				t.Fatalf("default %q: %v", s.Default, err)
			}
			app, err := ssevents.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			got := app.Config()
			got.Logger = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s=%s gives\n%+v\nwant the defaults\n%+v", s.Name, s.Default, got, want)
			}
		})
	}
}

// The history bounds of Config reach the broker the App opens.
func TestConfig_historyBoundsReachTheBroker(t *testing.T) {
	t.Parallel()
	got := make(chan sse.BrokerOptions, 1)
	sse.RegisterBroker("config-test", func(_ context.Context, _ *url.URL, opts sse.BrokerOptions) (sse.Broker, error) {
		got <- opts
		return nil, errors.New("not a broker")
	})
	_, err := ssevents.New(ssevents.Config{BrokerURL: "config-test://", HistoryMaxTopics: 7, HistoryMaxBytes: 3 << 20})
	if err == nil {
		t.Fatal("New succeeded with a broker that failed to open")
	}
	if opts := <-got; opts.HistoryMaxTopics != 7 || opts.HistoryMaxBytes != 3<<20 {
		t.Errorf("the broker was opened with HistoryMaxTopics %d, HistoryMaxBytes %d; want 7 and %d", opts.HistoryMaxTopics, opts.HistoryMaxBytes, 3<<20)
	}
}

// A data directory is for the embedded broker: with another one the
// configuration is refused, with a message that names the setting.
func TestConfigDataDirOnlyWithTheEmbeddedBroker(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"redis://127.0.0.1:6379/0", "redis+cluster://127.0.0.1:7000"} {
		err := ssevents.Config{DataDir: t.TempDir(), BrokerURL: url}.Validate()
		if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(err.Error(), "SSE_DATA_DIR") || !strings.Contains(err.Error(), "redis") {
			t.Errorf("DataDir with %s: %v, want ErrInvalidConfig naming SSE_DATA_DIR and redis", url, err)
		}
	}
	if err := (ssevents.Config{DataDir: t.TempDir()}).Validate(); err != nil {
		t.Errorf("DataDir with the embedded broker: %v", err)
	}
	if err := (ssevents.Config{DataDir: t.TempDir(), Fsync: "sometimes"}).Validate(); !errors.Is(err, sse.ErrInvalidConfig) {
		t.Errorf("Fsync sometimes: %v, want ErrInvalidConfig", err)
	}
}
