package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// TestErrorLines: every command's failure is one line on stderr with one
// prefix, "ssevents <command>: ", then what went wrong (a server's message
// once, with its status), and the exit status of its kind.
func TestErrorLines(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, hub.Config{})
	_, authSrv := startCLITestHub(t, jwtHub)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ssevents.WriteError(w, r, nil, fmt.Errorf("%w: token required", sse.ErrUnauthorized))
	}))
	t.Cleanup(refusing.Close)
	const badTopic = `invalid topic: "a b" has the character ' '; allowed are letters, digits and _ - . : @ / = +`
	const wantDuration = `want a duration such as 5s, 1m30s or 250ms`
	secret := strings.Repeat("s", hub.MinJWTSecretLength)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"publish refused by the hub", []string{"publish", "--url", srv.URL, "--topic", "a b"}, 1,
			"ssevents publish: " + badTopic + " (400)"},
		{"publish unauthorized", []string{"publish", "--url", authSrv.URL, "--topic", "t", "--token", "wrong"}, 1,
			"ssevents publish: unauthorized: the token is malformed (401)"},
		{"publish bad URL", []string{"publish", "--url", "http://x y", "--topic", "t"}, 1,
			`ssevents publish: invalid configuration: client URL "http://x y": want http://host[:port][/prefix]`},
		{"publish no topic", []string{"publish", "--url", srv.URL}, 1, "ssevents publish: --topic is required"},
		{"tail refused by the hub", []string{"tail", "--url", srv.URL, "--topic", "a b"}, 1,
			"ssevents tail: " + badTopic + " (400)"},
		{"tail unknown flag", []string{"tail", "--nope"}, 2, "ssevents tail: flag provided but not defined: -nope (see ssevents tail -h)"},
		{"token short secret", []string{"token", "--secret", "short"}, 1, "ssevents token: the secret is 5 bytes, want at least 32"},
		{"token bad pattern", []string{"token", "--secret", secret, "--publish", "a b"}, 1,
			`ssevents token: topic pattern "a b": ` + badTopic},
		{"token ttl", []string{"token", "--ttl", "5"}, 2,
			`ssevents token: invalid value "5" for flag -ttl: ` + wantDuration + " (see ssevents token -h)"},
		{"bench duration", []string{"bench", "--duration", "5"}, 2,
			`ssevents bench: invalid value "5" for flag -duration: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench drain", []string{"bench", "--drain", "soon"}, 2,
			`ssevents bench: invalid value "soon" for flag -drain: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench connect timeout", []string{"bench", "--check", "--connect-timeout", "1"}, 2,
			`ssevents bench: invalid value "1" for flag -connect-timeout: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench bounds", []string{"bench", "--url", srv.URL, "--conns", "0"}, 2, "ssevents bench: --conns must be 1 to 1000000"},
		{"bench refused", []string{"bench", "--url", refusing.URL, "--conns", "2", "--duration", "1s"}, 1,
			"ssevents bench: no subscription could connect to " + refusing.URL + ": unauthorized: token required (401)"},
		{"bench --check bounds", []string{"bench", "--check", "--url", srv.URL, "--rate", "100000000"}, 1,
			"ssevents bench --check: invalid check configuration: rate must be 1 to 10000 a second"},
		{"bench --html with --check", []string{"bench", "--check", "--url", srv.URL, "--html", "x.html"}, 2,
			"ssevents bench: --html draws a load run's report; --check has none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			code := exitCode(err, &stderr)
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			// A missing --topic prints the usage first; the error is the last line.
			if got := lines[len(lines)-1]; got != tt.want || code != tt.code {
				t.Errorf("ssevents %s:\nstderr %q, exit %d\nwant   %q, exit %d", strings.Join(tt.args, " "), stderr.String(), code, tt.want, tt.code)
			}
			if tt.name != "publish no topic" && len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", len(lines), stderr.String())
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("no command given"), "ssevents: no command given"},
		{fmt.Errorf("ssevents: invalid configuration: x"), "ssevents: invalid configuration: x"},
		{fmt.Errorf("publish: %w", bare(fmt.Errorf("%w: y", sse.ErrInvalidTopic))), "ssevents publish: invalid topic: y"},
		{fmt.Errorf("serve: ssevents: listen: ssevents: busy"), "ssevents serve: listen: busy"},
		{fmt.Errorf("bench --check: the promise was broken"), "ssevents bench --check: the promise was broken"},
		{fmt.Errorf("bench: a\nssevents: b\n"), "ssevents bench: a; b"},
	} {
		if got := errorLine(tt.err); got != tt.want {
			t.Errorf("errorLine(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if err := fmt.Errorf("publish: %w", bare(fmt.Errorf("%w: y", sse.ErrInvalidTopic))); !errors.Is(err, sse.ErrInvalidTopic) {
		t.Errorf("bare hides the wrapped error from errors.Is")
	}
}
