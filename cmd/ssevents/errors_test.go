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
// once, with its status), and the exit status of its kind: 2 for a command
// line that cannot be used (no usage printed), 1 for any other failure.
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
		{"publish bad URL", []string{"publish", "--url", "http://x y", "--topic", "t"}, 2,
			`ssevents publish: invalid configuration: client URL "http://x y": want http://host[:port][/prefix]`},
		{"publish no topic", []string{"publish", "--url", srv.URL}, 2, "ssevents publish: --topic is required (see ssevents publish -h)"},
		{"tail no topic", []string{"tail", "--url", srv.URL}, 2, "ssevents tail: --topic is required (see ssevents tail -h)"},
		{"presence no topic", []string{"presence", "--url", srv.URL}, 2, "ssevents presence: --topic is required (see ssevents presence -h)"},
		{"publish data not JSON", []string{"publish", "--url", srv.URL, "--topic", "t", "--data", "{x"}, 2, `ssevents publish: --data is not valid JSON: "{x"`},
		{"publish data file missing", []string{"publish", "--url", srv.URL, "--topic", "t", "--data", "@/nonexistent/d.json"}, 1,
			"ssevents publish: --data @/nonexistent/d.json: open /nonexistent/d.json: no such file or directory"},
		{"publish CA file missing", []string{"publish", "--url", srv.URL, "--topic", "t", "--cacert", "/nonexistent/ca.pem"}, 2,
			"ssevents publish: invalid configuration: CA file: open /nonexistent/ca.pem: no such file or directory"},
		{"serve unknown flag", []string{"serve", "--adr", ":9000"}, 2, "ssevents serve: unknown flag --adr; did you mean --addr? (see ssevents serve -h)"},
		{"serve flag without value", []string{"serve", "--addr"}, 2, "ssevents serve: flag --addr needs a value (see ssevents serve -h)"},
		{"serve bad value", []string{"serve", "--heartbeat-seconds", "1"}, 2,
			`ssevents: invalid configuration: SSE_HEARTBEAT_SECONDS="1": want an integer from 5 to 60`},
		{"tail refused by the hub", []string{"tail", "--url", srv.URL, "--topic", "a b"}, 1,
			"ssevents tail: " + badTopic + " (400)"},
		{"tail unknown flag", []string{"tail", "--nope"}, 2, "ssevents tail: unknown flag --nope (see ssevents tail -h)"},
		{"token short secret", []string{"token", "--secret", "short"}, 2, "ssevents token: the secret is 5 bytes, want at least 32"},
		{"token bad pattern", []string{"token", "--secret", secret, "--publish", "a b"}, 2,
			`ssevents token: topic pattern "a b": ` + badTopic},
		{"token ttl", []string{"token", "--ttl", "5"}, 2,
			`ssevents token: invalid value "5" for --ttl: ` + wantDuration + " (see ssevents token -h)"},
		{"bench duration", []string{"bench", "--duration", "5"}, 2,
			`ssevents bench: invalid value "5" for --duration: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench drain", []string{"bench", "--drain", "soon"}, 2,
			`ssevents bench: invalid value "soon" for --drain: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench connect timeout", []string{"bench", "--check", "--connect-timeout", "1"}, 2,
			`ssevents bench: invalid value "1" for --connect-timeout: ` + wantDuration + " (see ssevents bench -h)"},
		{"bench bounds", []string{"bench", "--url", srv.URL, "--conns", "0"}, 2, "ssevents bench: --conns must be 1 to 1000000"},
		{"bench refused", []string{"bench", "--url", refusing.URL, "--conns", "2", "--duration", "1s"}, 1,
			"ssevents bench: no subscription could connect to " + refusing.URL + ": unauthorized: token required (401)"},
		{"bench --check bounds", []string{"bench", "--check", "--url", srv.URL, "--rate", "100000000"}, 2,
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
			if got := lines[len(lines)-1]; got != tt.want || code != tt.code {
				t.Errorf("ssevents %s:\nstderr %q, exit %d\nwant   %q, exit %d", strings.Join(tt.args, " "), stderr.String(), code, tt.want, tt.code)
			}
			if len(lines) != 1 {
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
