package main_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/redistest"
)

// TestServe_readyNamesTheBroker: "hub ready" names the broker, its URL
// with the password hidden; a broker that cannot be reached fails the
// start with one line naming --redis-url and SSE_REDIS_URL, password
// hidden too.
func TestServe_readyNamesTheBroker(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	if _, err := redis.Do("ACL", "SETUSER", "hub", "on", ">s3cretpass", "~*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, url, want string
	}{
		{"embedded", "", `broker=memory://`},
		{"redis with a password", "redis://hub:s3cretpass@" + redis.Addr() + "/0", `broker=redis://hub:xxxxx@` + regexp.QuoteMeta(redis.Addr()) + `/0`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			m := main.NewMain()
			args := []string{"--addr", "127.0.0.1:0", "--demo=false"}
			if tt.url != "" {
				args = append(args, "--redis-url", tt.url)
			}
			if err := m.ParseFlags(args, func(string) (string, bool) { return "", false }, io.Discard); err != nil {
				t.Fatal(err)
			}
			m.Logger = slog.New(slog.NewTextHandler(&log, nil))
			if err := m.Run(t.Context()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if !regexp.MustCompile(`msg="hub ready" .* ` + tt.want + `( |\n)`).MatchString(log.String()) {
				t.Errorf("log:\n%s\nwant a hub ready line with %s", log.String(), tt.want)
			}
			if strings.Contains(log.String(), "s3cretpass") {
				t.Errorf("the log shows the password:\n%s", log.String())
			}
		})
	}

	t.Run("broker down", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		err := main.RunCommand(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--redis-url", "redis://:s3cretpass@127.0.0.1:1/0"}, &stdout, &stderr)
		if err == nil {
			t.Fatal("serve started without its broker")
		}
		msg := err.Error()
		for _, want := range []string{"broker unavailable", "--redis-url / SSE_REDIS_URL (redis://:xxxxx@127.0.0.1:1/0)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, "s3cretpass") || strings.Contains(msg, "\n") {
			t.Errorf("error %q shows the password or has several lines", msg)
		}
	})
}
