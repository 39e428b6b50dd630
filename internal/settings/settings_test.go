package settings_test

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/settings"
	"github.com/ssevents/ssevents/sse"
)

// conf is a configuration with a field of every kind.
type conf struct {
	N       int
	Wait    time.Duration
	Retry   time.Duration
	Cache   time.Duration
	On      bool
	Off     bool
	Name    string
	Secret  string
	Level   string
	Origins []string
}

func checkNoBlank(s string) error {
	if strings.Contains(s, " ") {
		return errors.New("want no blanks")
	}
	return nil
}

var table = []settings.Setting[conf]{
	settings.Int(settings.Spec{Name: "SSE_N", Field: "N", Default: "10", Min: 1, Max: 100}, func(c *conf) *int { return &c.N }),
	settings.Duration(settings.Spec{Name: "SSE_WAIT_SECONDS", Field: "Wait", Default: "5", Min: 1, Max: 60, Unit: "s"}, func(c *conf) *time.Duration { return &c.Wait }),
	settings.Duration(settings.Spec{Name: "SSE_RETRY_MS", Field: "Retry", Min: 0, Max: 1000, Unit: "ms"}, func(c *conf) *time.Duration { return &c.Retry }),
	settings.Duration(settings.Spec{Name: "SSE_CACHE_SECONDS", Field: "Cache", Min: 0, Max: 10, Unit: "s", OffAtZero: true}, func(c *conf) *time.Duration { return &c.Cache }),
	settings.Bool(settings.Spec{Name: "SSE_ON", Field: "On", Default: "false"}, false, func(c *conf) *bool { return &c.On }),
	settings.Bool(settings.Spec{Name: "SSE_FEATURE", Field: "Off", Default: "true"}, true, func(c *conf) *bool { return &c.Off }),
	settings.String(settings.Spec{Name: "SSE_NAME", Field: "Name", Allowed: "a word", Check: checkNoBlank}, func(c *conf) *string { return &c.Name }),
	settings.String(settings.Spec{Name: "SSE_SECRET", Field: "Secret", Secret: true, Check: func(s string) error {
		if len(s) < 8 {
			return errors.New("is too short")
		}
		return nil
	}}, func(c *conf) *string { return &c.Secret }),
	settings.Enum(settings.Spec{Name: "SSE_LEVEL", Field: "Level", Default: "info", Values: []string{"debug", "info", "warn"}}, func(c *conf) *string { return &c.Level }),
	settings.List(settings.Spec{Name: "SSE_ORIGINS", Field: "Origins", Allowed: "words", Check: checkNoBlank}, func(c *conf) *[]string { return &c.Origins }),
}

func lookupOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestApplyLookup_values(t *testing.T) {
	t.Parallel()
	var c conf
	err := settings.ApplyLookup(&c, table, lookupOf(map[string]string{
		"SSE_N": " 42 ", "SSE_WAIT_SECONDS": "7", "SSE_RETRY_MS": "250", "SSE_CACHE_SECONDS": "0",
		"SSE_ON": "true", "SSE_FEATURE": "false", "SSE_NAME": "", "SSE_SECRET": " padded secret ",
		"SSE_LEVEL": "WARN", "SSE_ORIGINS": " a, ,b,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := conf{N: 42, Wait: 7 * time.Second, Retry: 250 * time.Millisecond, Cache: -1, On: true, Off: true,
		Secret: " padded secret ", Level: "warn", Origins: []string{"a", "b"}}
	if c.N != want.N || c.Wait != want.Wait || c.Retry != want.Retry || c.Cache != want.Cache || c.On != want.On ||
		c.Off != want.Off || c.Name != want.Name || c.Secret != want.Secret || c.Level != want.Level ||
		strings.Join(c.Origins, "|") != strings.Join(want.Origins, "|") {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if err := settings.Validate(&c, table); err != nil {
		t.Fatalf("Validate of parsed values: %v", err)
	}
}

// An invalid value of every kind is ErrInvalidConfig naming the variable
// and what it allows.
func TestApplyLookup_errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, variable, value string
		want                  []string
	}{
		{"int out of range", "SSE_N", "101", []string{`SSE_N="101"`, "want an integer from 1 to 100"}},
		{"int below range", "SSE_N", "0", []string{`SSE_N="0"`, "from 1 to 100"}},
		{"int not a number", "SSE_N", "ten", []string{`SSE_N="ten"`, "from 1 to 100"}},
		{"seconds out of range", "SSE_WAIT_SECONDS", "61", []string{"SSE_WAIT_SECONDS", "from 1 to 60"}},
		{"ms not a number", "SSE_RETRY_MS", "1.5", []string{"SSE_RETRY_MS", "from 0 to 1000"}},
		{"negative ms", "SSE_RETRY_MS", "-1", []string{"SSE_RETRY_MS", "from 0 to 1000"}},
		{"bad bool", "SSE_ON", "maybe", []string{`SSE_ON="maybe"`, "want true or false"}},
		{"bad negated bool", "SSE_FEATURE", "yes", []string{"SSE_FEATURE", "want true or false"}},
		{"bad enum", "SSE_LEVEL", "loud", []string{`SSE_LEVEL="loud"`, "want debug, info or warn"}},
		{"string check", "SSE_NAME", "a b", []string{`SSE_NAME="a b"`, "want no blanks"}},
		{"list item check", "SSE_ORIGINS", "a,b c", []string{"SSE_ORIGINS", "want no blanks"}},
		{"secret not shown", "SSE_SECRET", "hunter", []string{"SSE_SECRET is too short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c conf
			err := settings.ApplyLookup(&c, table, lookupOf(map[string]string{tt.variable: tt.value}))
			if !errors.Is(err, sse.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.variable == "SSE_SECRET" && strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// Validate checks the fields of a configuration built in Go against the
// same declarations, naming the field.
func TestValidate(t *testing.T) {
	t.Parallel()
	valid := conf{N: 10, Wait: 5 * time.Second, Level: "info"}
	tests := []struct {
		name   string
		modify func(*conf)
		want   string // "" for valid
	}{
		{"valid", func(*conf) {}, ""},
		{"int above", func(c *conf) { c.N = 101 }, "N is 101: want 1 to 100"},
		{"duration below", func(c *conf) { c.Wait = 500 * time.Millisecond }, "Wait is 500ms: want 1s to 1m0s"},
		{"ms above", func(c *conf) { c.Retry = 2 * time.Second }, "Retry is 2s"},
		{"off at zero allows negative", func(c *conf) { c.Cache = -1 }, ""},
		{"negative without off at zero", func(c *conf) { c.Retry = -1 }, "Retry"},
		{"string check", func(c *conf) { c.Name = "a b" }, `Name is "a b": want no blanks`},
		{"secret not shown", func(c *conf) { c.Secret = "short" }, "Secret is too short"},
		{"enum", func(c *conf) { c.Level = "loud" }, `Level is "loud": want debug, info or warn`},
		{"list item", func(c *conf) { c.Origins = []string{"ok", "n o"} }, "Origins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.modify(&c)
			err := settings.Validate(&c, table)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "short\"") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// A flag wins over its variable; a bool flag may be given alone or with
// =false; a setting without its flag falls back to the variable.
func TestDefineFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SSE_N": "5", "SSE_ON": "false", "SSE_FEATURE": "true", "SSE_LEVEL": "debug"}
	tests := []struct {
		name  string
		args  []string
		check func(c conf) bool
	}{
		{"variables only", nil, func(c conf) bool { return c.N == 5 && !c.On && !c.Off && c.Level == "debug" }},
		{"int flag wins", []string{"--n", "9"}, func(c conf) bool { return c.N == 9 && c.Level == "debug" }},
		{"bool flag alone", []string{"--on"}, func(c conf) bool { return c.On }},
		{"bool flag =false wins", []string{"--feature=false"}, func(c conf) bool { return c.Off }},
		{"enum flag wins", []string{"-level", "warn"}, func(c conf) bool { return c.Level == "warn" && c.N == 5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			get := settings.DefineFlags(fs, table, lookupOf(env))
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var c conf
			if err := settings.ApplyLookup(&c, table, get); err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("args %q with %v gave %+v", tt.args, env, c)
			}
		})
	}
}

// Flag names, defaults and allowed values as help shows them.
func TestTexts(t *testing.T) {
	t.Parallel()
	tests := []struct{ variable, flag, def, allowed string }{
		{"SSE_N", "n", "10", "integer 1 to 100"},
		{"SSE_WAIT_SECONDS", "wait-seconds", "5 s", "integer 1 to 60 s"},
		{"SSE_RETRY_MS", "retry-ms", "none", "integer 0 to 1000 ms"},
		{"SSE_ON", "on", "false", "true or false"},
		{"SSE_NAME", "name", "none", "a word"},
		{"SSE_LEVEL", "level", "info", "debug, info or warn"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			t.Parallel()
			for _, s := range table {
				if s.Name != tt.variable {
					continue
				}
				if s.Flag() != tt.flag || s.DefaultText() != tt.def || s.AllowedText() != tt.allowed {
					t.Fatalf("flag %q default %q allowed %q, want %q %q %q", s.Flag(), s.DefaultText(), s.AllowedText(), tt.flag, tt.def, tt.allowed)
				}
				return
			}
			t.Fatalf("%s not in the table", tt.variable)
		})
	}
}

// An invalid value's error wraps the reason without repeating its
// "ssevents: " prefix, and shows a URL's password as xxxxx.
func TestInvalidValue_noStutterNoPassword(t *testing.T) {
	t.Parallel()
	reason := errors.New("ssevents: no broker registered for URL scheme \"http\"")
	url := settings.String(settings.Spec{Name: "SSE_URL", Field: "URL", Check: func(string) error { return reason }},
		func(c *conf) *string { return &c.Name })
	for _, err := range []error{
		url.Apply(&conf{}, "http://user:hunter2@host/x"),
		url.Validate(&conf{Name: "http://user:hunter2@host/x"}),
	} {
		msg := err.Error()
		if !errors.Is(err, sse.ErrInvalidConfig) || !errors.Is(err, reason) {
			t.Errorf("%v does not wrap ErrInvalidConfig and the reason", err)
		}
		if strings.Count(msg, "ssevents: ") != 1 || !strings.HasPrefix(msg, "ssevents: invalid configuration: ") {
			t.Errorf("%q: want one ssevents: prefix, at the start", msg)
		}
		if strings.Contains(msg, "hunter2") || !strings.Contains(msg, "http://user:xxxxx@host/x") || !strings.HasSuffix(msg, `no broker registered for URL scheme "http"`) {
			t.Errorf("%q: want the URL without its password, then the reason", msg)
		}
	}
}
