package main_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/settings"
)

// contract is every setting of `ssevents serve` with its variable, flag and
// default: a public contract (scripts, deployments and the README use
// them), written out here so that a change to the table fails. A default
// computed at start is its rule, without the "(19000 here)" that follows
// it in the declaration (see withoutHere).
var contract = []struct{ variable, flag, def string }{
	{"SSE_ADDR", "addr", ":8000"},
	{"SSE_TLS_CERT_FILE", "tls-cert-file", ""},
	{"SSE_TLS_KEY_FILE", "tls-key-file", ""},
	{"SSE_SHUTDOWN_TIMEOUT_SECONDS", "shutdown-timeout-seconds", "10"},
	{"SSE_LOG_LEVEL", "log-level", "info"},
	{"SSE_LOG_FORMAT", "log-format", "text"},
	{"SSE_REDIS_URL", "redis-url", "memory://"},
	{"SSE_REDIS_CLASSIC_PUBSUB", "redis-classic-pubsub", "false"},
	{"SSE_PATH", "path", "/events"},
	{"SSE_TOPIC_PREFIX", "topic-prefix", ""},
	{"SSE_HEARTBEAT_SECONDS", "heartbeat-seconds", "15"},
	{"SSE_HEARTBEAT_EVENT", "heartbeat-event", "false"},
	{"SSE_MAX_CONNECTIONS", "max-connections", "open-file limit minus headroom"},
	{"SSE_MAX_PENDING_AUTH", "max-pending-auth", "max(16, max-connections/10)"},
	{"SSE_MAX_QUEUE_SIZE", "max-queue-size", "128"},
	{"SSE_MAX_QUEUE_BYTES", "max-queue-bytes", "1048576"},
	{"SSE_POLLER", "poller", "true"},
	{"SSE_MAX_MESSAGE_SIZE", "max-message-size", "65536"},
	{"SSE_MAX_TOPICS", "max-topics", "32"},
	{"SSE_HISTORY_SIZE", "history-size", "100"},
	{"SSE_HISTORY_SECONDS", "history-seconds", "300"},
	{"SSE_HISTORY_MAX_TOPICS", "history-max-topics", "100000"},
	{"SSE_HISTORY_MAX_BYTES", "history-max-bytes", "268435456"},
	{"SSE_DATA_DIR", "data-dir", ""},
	{"SSE_FSYNC", "fsync", "always"},
	{"SSE_FSYNC_INTERVAL_MS", "fsync-interval-ms", "200"},
	{"SSE_PRESENCE", "presence", ""},
	{"SSE_PRESENCE_GRACE_SECONDS", "presence-grace-seconds", "10"},
	{"SSE_PRESENCE_TTL_SECONDS", "presence-ttl-seconds", "30"},
	{"SSE_PRESENCE_WEBHOOK_URL", "presence-webhook-url", ""},
	{"SSE_PRESENCE_WEBHOOK_SECRET", "presence-webhook-secret", ""},
	{"SSE_RETRY_MS", "retry-ms", "3000"},
	{"SSE_WRITE_TIMEOUT_SECONDS", "write-timeout-seconds", "10"},
	{"SSE_JWT_SECRET", "jwt-secret", ""},
	{"SSE_JWT_PUBLIC_KEY_FILE", "jwt-public-key-file", ""},
	{"SSE_JWT_JWKS_FILE", "jwt-jwks-file", ""},
	{"SSE_JWT_JWKS_URL", "jwt-jwks-url", ""},
	{"SSE_JWT_REQUIRE_EXP", "jwt-require-exp", "true"},
	{"SSE_JWT_ISSUER", "jwt-issuer", ""},
	{"SSE_JWT_AUDIENCE", "jwt-audience", ""},
	{"SSE_JWT_LEEWAY_SECONDS", "jwt-leeway-seconds", "0"},
	{"SSE_AUTHORIZE_URL", "authorize-url", ""},
	{"SSE_AUTHORIZE_TIMEOUT_MS", "authorize-timeout-ms", "2000"},
	{"SSE_AUTHORIZE_CACHE_SECONDS", "authorize-cache-seconds", "5"},
	{"SSE_PRESENCE_INFO_CLAIM", "presence-info-claim", ""},
	{"SSE_PUBLIC_TOPICS", "public-topics", ""},
	{"SSE_CORS_ORIGINS", "cors-origins", ""},
	{"SSE_DEMO", "demo", "true"},
	{"SSE_TRUSTED_PROXIES", "trusted-proxies", ""},
	{"SSE_PUBLISH_RATE", "publish-rate", "0"},
	{"SSE_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", "0"},
	{"SSE_IPV6_PREFIX_BITS", "ipv6-prefix-bits", "64"},
}

// here is the value a computed default has in this process, appended to
// its rule in the declaration: "open-file limit minus headroom (19000 here)".
var here = regexp.MustCompile(` \((\d+) here\)$`)

// withoutHere is a default as the README shows it: a computed default
// without its value in this process, which differs from machine to
// machine.
func withoutHere(def string) string { return here.ReplaceAllString(def, "") }

// A computed default's rule is followed by the value it gives here, the
// value that a zero Config gets: the README's rule and `serve -h`'s
// number come from one declaration.
func TestServeSettings_computedDefaultsShowTheirValue(t *testing.T) {
	t.Parallel()
	defaults := ssevents.Config{}
	if err := defaults.Validate(); err != nil {
		t.Fatal(err)
	}
	app, err := ssevents.New(defaults)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	c := app.Config()
	for _, tt := range []struct {
		variable string
		want     int
	}{
		{"SSE_MAX_CONNECTIONS", c.MaxConnections},
		{"SSE_MAX_PENDING_AUTH", c.MaxPendingAuth},
	} {
		i := slices.IndexFunc(ssevents.Settings, func(s ssevents.Setting) bool { return s.Name == tt.variable })
		if i < 0 {
			t.Fatalf("no setting %s", tt.variable)
		}
		m := here.FindStringSubmatch(ssevents.Settings[i].Default)
		if m == nil || m[1] != strconv.Itoa(tt.want) {
			t.Errorf("%s default %q, want it to end (%d here)", tt.variable, ssevents.Settings[i].Default, tt.want)
		}
	}
}

func TestServeSettings_keepTheirNamesAndDefaults(t *testing.T) {
	t.Parallel()
	all := main.ServeSettings()
	if len(all) != len(contract) {
		t.Errorf("%d settings, want %d", len(all), len(contract))
	}
	for i, s := range all {
		if i >= len(contract) {
			t.Errorf("unexpected setting %s", s.Name)
			continue
		}
		if want := contract[i]; s.Name != want.variable || s.Flag() != want.flag || withoutHere(s.Default) != want.def {
			t.Errorf("setting %d is %s --%s default %q, want %s --%s default %q", i, s.Name, s.Flag(), s.Default, want.variable, want.flag, want.def)
		}
	}
}

// `serve -h` shows every setting: its flag, variable, default and allowed
// values.
func TestServeHelp_listsEverySetting(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := main.NewMain().ParseFlags([]string{"-h"}, noEnv, &out); err == nil {
		t.Fatal("-h: no error")
	}
	help := out.String()
	for _, s := range main.ServeSettings() {
		want := fmt.Sprintf("  --%s  (env %s)\n        %s; default %s; allowed: %s\n", s.Flag(), s.Name, s.Usage, s.DefaultText(), s.AllowedText())
		if !strings.Contains(help, want) {
			t.Errorf("help lacks\n%s", want)
		}
	}
	for _, c := range contract {
		if !strings.Contains(help, "--"+c.flag+"  (env "+c.variable+")") {
			t.Errorf("help lacks --%s / %s", c.flag, c.variable)
		}
	}
}

// readmeTable returns the rows of the README table whose header row is
// header, each a slice of cells without backticks.
func readmeTable(t *testing.T, header string) [][]string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	i := slices.Index(lines, header)
	if i < 0 {
		t.Fatalf("README has no table %q", header)
	}
	var rows [][]string
	for _, line := range lines[i+2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "`", "")))
		}
		rows = append(rows, cells)
	}
	return rows
}

// allowedPrefix is how a README "allowed" cell of s begins, for the kinds
// whose allowed values are derived ("" for free text).
func allowedPrefix(s settings.Setting[main.Main]) string {
	switch s.Kind {
	case settings.KindInt, settings.KindDuration:
		return strings.TrimSpace(fmt.Sprintf("%d–%d %s", s.Min, s.Max, s.Unit))
	case settings.KindBool:
		return "true, false"
	case settings.KindEnum:
		return strings.Join(s.Values, ", ")
	}
	return ""
}

// The README's Configuration table lists exactly the core settings (field,
// variable, default) and its hub flag table exactly the others (flag,
// variable, default), so that the docs cannot drift from the table.
func TestREADME_listsExactlyTheSettings(t *testing.T) {
	t.Parallel()
	core := map[string]bool{}
	for _, s := range ssevents.Settings {
		core[s.Name] = true
	}
	rows := map[string][]string{} // variable: field or flag, default, allowed
	for _, table := range []struct {
		header string
		core   bool
	}{
		{"| `Config` field | variable | default | allowed |", true},
		{"| flag | variable | default | allowed |", false},
	} {
		for _, r := range readmeTable(t, table.header) {
			if len(r) != 4 {
				t.Fatalf("README row %q: want 4 cells", r)
			}
			if r[1] == "" {
				continue // a Go-only field (Broker, Logger, Authorize)
			}
			if core[r[1]] != table.core {
				t.Errorf("README lists %s in the wrong table", r[1])
			}
			if _, dup := rows[r[1]]; dup {
				t.Errorf("README lists %s twice", r[1])
			}
			rows[r[1]] = []string{r[0], r[2], r[3]}
		}
	}
	for _, s := range main.ServeSettings() {
		r, ok := rows[s.Name]
		if !ok {
			t.Errorf("README lacks %s", s.Name)
			continue
		}
		delete(rows, s.Name)
		name := "--" + s.Flag()
		if core[s.Name] {
			name = s.Field
		}
		if r[0] != name || r[1] != withoutHere(s.DefaultText()) {
			t.Errorf("README: %s is %q default %q, want %q default %q", s.Name, r[0], r[1], name, withoutHere(s.DefaultText()))
		}
		if p := allowedPrefix(s); !strings.HasPrefix(r[2], p) {
			t.Errorf("README: %s allows %q, want it to begin %q", s.Name, r[2], p)
		}
	}
	for name := range rows {
		t.Errorf("README lists %s, which is no setting", name)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, m *main.Main)
	}{
		{name: "defaults", check: func(t *testing.T, m *main.Main) {
			if m.Addr != ":8000" || m.Config.JWTSecret != "" || m.Config.DisableDemo || m.ShutdownTimeout != 10*time.Second {
				t.Errorf("defaults: %+v", m)
			}
		}},
		{name: "env", env: map[string]string{"SSE_ADDR": ":9000", "SSE_MAX_CONNECTIONS": "7", "SSE_PUBLIC_TOPICS": "news, public:*", "SSE_AUTHORIZE_CACHE_SECONDS": "0"},
			check: func(t *testing.T, m *main.Main) {
				if m.Addr != ":9000" || m.Config.MaxConnections != 7 || strings.Join(m.Config.PublicTopics, "|") != "news|public:*" || m.Config.AuthorizeCacheTTL >= 0 {
					t.Errorf("from env: addr %q, max %d, public %q, cache %v", m.Addr, m.Config.MaxConnections, m.Config.PublicTopics, m.Config.AuthorizeCacheTTL)
				}
			}},
		{name: "flag wins over env", args: []string{"--addr", ":7000", "--max-connections", "9", "--demo=false", "--heartbeat-event"},
			env: map[string]string{"SSE_ADDR": ":9000", "SSE_MAX_CONNECTIONS": "7"},
			check: func(t *testing.T, m *main.Main) {
				if m.Addr != ":7000" || m.Config.MaxConnections != 9 || !m.Config.DisableDemo || !m.Config.HeartbeatEvent {
					t.Errorf("flags: addr %q, max %d, demo off %v, heartbeat event %v", m.Addr, m.Config.MaxConnections, m.Config.DisableDemo, m.Config.HeartbeatEvent)
				}
			}},
		{name: "bool flag beats its variable", args: []string{"--demo", "--heartbeat-event=false", "--log-format", "json"},
			env: map[string]string{"SSE_DEMO": "false", "SSE_HEARTBEAT_EVENT": "true", "SSE_LOG_FORMAT": "text"},
			check: func(t *testing.T, m *main.Main) {
				if m.Config.DisableDemo || m.Config.HeartbeatEvent {
					t.Errorf("flags lost to variables: demo off %v, heartbeat event %v", m.Config.DisableDemo, m.Config.HeartbeatEvent)
				}
				if _, ok := m.Logger.Handler().(*slog.JSONHandler); !ok {
					t.Errorf("--log-format json gave %T", m.Logger.Handler())
				}
			}},
		{name: "durations in their units", env: map[string]string{"SSE_RETRY_MS": "250", "SSE_SHUTDOWN_TIMEOUT_SECONDS": "3", "SSE_AUTHORIZE_TIMEOUT_MS": "1500", "SSE_REDIS_URL": "memory://"},
			check: func(t *testing.T, m *main.Main) {
				if m.Config.Retry != 250*time.Millisecond || m.ShutdownTimeout != 3*time.Second || m.Config.AuthorizeTimeout != 1500*time.Millisecond || m.Config.BrokerURL != "memory://" {
					t.Errorf("retry %v, shutdown %v, authorize timeout %v, broker %q", m.Config.Retry, m.ShutdownTimeout, m.Config.AuthorizeTimeout, m.Config.BrokerURL)
				}
			}},
		{name: "log level", args: []string{"--log-level", "WARN"}, check: func(t *testing.T, m *main.Main) {
			if m.Logger.Enabled(context.Background(), slog.LevelInfo) || !m.Logger.Enabled(context.Background(), slog.LevelWarn) {
				t.Error("--log-level WARN: info enabled or warn disabled")
			}
		}},
		{name: "TLS pair", args: []string{"--tls-cert-file", "c.pem"}, env: map[string]string{"SSE_TLS_KEY_FILE": "k.pem"},
			check: func(t *testing.T, m *main.Main) {
				if m.TLSCertFile != "c.pem" || m.TLSKeyFile != "k.pem" {
					t.Errorf("TLS files %q, %q", m.TLSCertFile, m.TLSKeyFile)
				}
			}},
		{name: "TLS certificate alone", env: map[string]string{"SSE_TLS_CERT_FILE": "c.pem"}, wantErr: "SSE_TLS_CERT_FILE (--tls-cert-file) is set but SSE_TLS_KEY_FILE (--tls-key-file) is not: HTTPS needs both"},
		{name: "TLS key alone", args: []string{"--tls-key-file", "k.pem"}, wantErr: "SSE_TLS_KEY_FILE (--tls-key-file) is set but SSE_TLS_CERT_FILE"},
		{name: "address without port", args: []string{"--addr", "localhost"}, wantErr: `SSE_ADDR="localhost": missing port in address`},
		{name: "broker URL scheme", env: map[string]string{"SSE_REDIS_URL": "http://x"}, wantErr: `SSE_REDIS_URL="http://x": no broker registered for URL scheme "http"; accepted: memory://, redis://`},
		{name: "invalid core value", env: map[string]string{"SSE_MAX_CONNECTIONS": "0"}, wantErr: `SSE_MAX_CONNECTIONS="0": want an integer from 1 to 1000000`},
		{name: "not a number", args: []string{"--shutdown-timeout-seconds", "ten"}, wantErr: "SSE_SHUTDOWN_TIMEOUT_SECONDS=\"ten\": want an integer from 1 to 600"},
		{name: "bad bool", env: map[string]string{"SSE_DEMO": "maybe"}, wantErr: `SSE_DEMO="maybe": want true or false`},
		{name: "bad bool flag", args: []string{"--demo=maybe"}, wantErr: `SSE_DEMO="maybe": want true or false`},
		{name: "bad enum", env: map[string]string{"SSE_LOG_FORMAT": "xml"}, wantErr: `SSE_LOG_FORMAT="xml": want text or json`},
		{name: "short secret", args: []string{"--jwt-secret", "short"}, wantErr: "SSE_JWT_SECRET is 5 bytes"},
		{name: "bad webhook URL", args: []string{"--authorize-url", "ftp://x"}, wantErr: "SSE_AUTHORIZE_URL"},
		{name: "bad origin", args: []string{"--cors-origins", "app.example.com"}, wantErr: "SSE_CORS_ORIGINS"},
		{name: "bad pattern", args: []string{"--public-topics", "a b"}, wantErr: "SSE_PUBLIC_TOPICS"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: `SSE_LOG_LEVEL="loud": want debug, info, warn or error`},
		{name: "bad timeout", args: []string{"--authorize-timeout-ms", "0"}, wantErr: "SSE_AUTHORIZE_TIMEOUT_MS=\"0\": want an integer from 1 to 60000"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "serve: unknown flag --nope (see ssevents serve -h)"},
		{name: "argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := main.NewMain()
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			err := m.ParseFlags(tt.args, lookup, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}
