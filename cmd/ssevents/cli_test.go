package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCommandLineHelpAndUsage: help that was asked for goes to stdout with
// exit status 0; a command line that cannot be used gets one clear line
// on stderr (no usage) and exit status 2.
func TestCommandLineHelpAndUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // must contain; "" for empty
		stderr     string // must contain; "" for empty
		stderrMost int    // most lines on stderr; 0 for no bound
	}{
		{"top help", []string{"-h"}, 0, `Run "ssevents <command> -h" for a command's flags.`, "", 0},
		{"help word", []string{"help"}, 0, "usage: ssevents <command>", "", 0},
		{"serve help", []string{"serve", "-h"}, 0, "SSE_REDIS_URL", "", 0},
		{"publish help", []string{"publish", "--help"}, 0, "usage: ssevents publish", "", 0},
		{"bench help", []string{"bench", "-h"}, 0, "usage: ssevents bench", "", 0},
		{"no command", nil, 2, "", "ssevents: no command given; commands: serve, publish, tail, presence, token, bench (see ssevents -h)", 1},
		{"unknown command", []string{"frobnicate"}, 2, "", `ssevents: unknown command "frobnicate"; commands: serve,`, 1},
		{"bool flag with a space", []string{"serve", "--demo", "false"}, 2, "", `serve: unexpected argument "false": a boolean flag takes its value after =, as in --demo=false`, 1},
		{"stray argument", []string{"publish", "--topic", "t", "extra"}, 2, "", `publish: unexpected argument "extra" (see ssevents publish -h)`, 1},
		{"unknown flag", []string{"tail", "--nope"}, 2, "", "tail: unknown flag --nope", 1},
		{"serve unknown flag", []string{"serve", "--adr", ":9000"}, 2, "", "serve: unknown flag --adr; did you mean --addr?", 1},
		{"tail without topic", []string{"tail"}, 2, "", "tail: --topic is required", 1},
		{"publish without topic", []string{"publish"}, 2, "", "publish: --topic is required", 1},
		{"bad value", []string{"serve", "--heartbeat-seconds", "1"}, 2, "", "SSE_HEARTBEAT_SECONDS", 1},
		{"bad flag value", []string{"bench", "--duration", "5"}, 2, "", `invalid value "5" for --duration`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code != tt.code {
				t.Fatalf("exit status %d, want %d (err %v, stderr %q)", code, tt.code, err, stderr.String())
			}
			check := func(name, got, want string) {
				t.Helper()
				if want == "" && got != "" {
					t.Errorf("%s = %q, want nothing", name, got)
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", name, got, want)
				}
			}
			check("stdout", stdout.String(), tt.stdout)
			check("stderr", stderr.String(), tt.stderr)
			if n := strings.Count(stderr.String(), "\n"); tt.stderrMost > 0 && n > tt.stderrMost {
				t.Errorf("stderr has %d lines, want at most %d: %q", n, tt.stderrMost, stderr.String())
			}
			if strings.Count(stderr.String(), "ssevents: ssevents:") > 0 {
				t.Errorf("stderr stutters: %q", stderr.String())
			}
		})
	}
}

// TestHelpStyle: every command lists its flags in one style, serve's:
// "  --name" (with "(env VAR)" when a variable stands in for it), then the
// help on an indented line; never Go's "  -name type".
func TestHelpStyle(t *testing.T) {
	t.Parallel()
	env := map[string]string{"publish": "--token  (env SSE_TOKEN)", "tail": "--cacert  (env SSE_CA_FILE)",
		"presence": "--cacert  (env SSE_CA_FILE)", "bench": "--cacert  (env SSE_CA_FILE)",
		"token": "--secret  (env SSE_JWT_SECRET)", "serve": "--addr  (env SSE_ADDR)"}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := exitCode(run(context.Background(), []string{c.name, "-h"}, &stdout, &stderr), &stderr); code != 0 {
				t.Fatalf("exit status %d", code)
			}
			out := stdout.String()
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "  -") && !strings.HasPrefix(l, "  --") {
					t.Errorf("flag in Go's style: %q", l)
				}
			}
			if !strings.Contains(out, "\n  "+env[c.name]+"\n        ") {
				t.Errorf("help does not list %q in serve's style:\n%s", env[c.name], out)
			}
			if strings.Contains(out, "--worker") {
				t.Errorf("help lists the internal --worker")
			}
		})
	}
}
