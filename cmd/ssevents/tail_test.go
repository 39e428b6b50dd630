package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/hub"
)

// tailLineRE matches a line of tail's columns (no colour): any time, then
// topic, event name, the whole id and data, aligned.
func tailLineRE(topic, event, id, data string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  ` + regexp.QuoteMeta(topic) + ` +` + regexp.QuoteMeta(event) +
		` +` + regexp.QuoteMeta(id) + ` +` + regexp.QuoteMeta(data) + `$`)
}

// waitForLine polls buf until a line matches re, or fails the test.
func waitForLine(t *testing.T, buf *lockedBuffer, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(buf.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for a line matching %s; output so far:\n%s", re, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForOutput polls buf until it contains want, or fails the test.
func waitForOutput(t *testing.T, buf *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; output so far:\n%s", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTailPrintsEventsUntilCancelled(t *testing.T) {
	t.Parallel()
	app, srv := startCLITestHub(t, hub.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runTail(ctx, []string{"--url", srv.URL, "--topic", "a,b"}, &stdout, &stderr) }()
	waitForOutput(t, &stderr, "connected")

	id1, err := app.Publish(ctx, "a", "created", map[string]any{"text": "two\nlines"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := app.Publish(ctx, "b", "deleted", json.RawMessage("{\n  \"id\": 7\n}"))
	if err != nil {
		t.Fatal(err)
	}
	// The topic column shows each event's topic, named by the stream.
	waitForLine(t, &stdout, tailLineRE("b", "deleted", id2, `{"id":7}`))
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 || !tailLineRE("a", "created", id1, `{"text":"two\nlines"}`).MatchString(lines[0]) ||
		!tailLineRE("b", "deleted", id2, `{"id":7}`).MatchString(lines[1]) {
		t.Errorf("tail printed\n%s\nwant the two events in columns, data on one line", stdout.String())
	}
	if strings.Index(lines[0], "{") != strings.Index(lines[1], "{") {
		t.Errorf("data columns not aligned:\n%s", stdout.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tail = %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not return after cancel")
	}
}

func TestTailResumesAndCounts(t *testing.T) {
	t.Parallel()
	app, srv := startCLITestHub(t, hub.Config{})
	first, err := app.Publish(t.Context(), "t", "one", 1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := app.Publish(t.Context(), "t", "two", 2)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	err = runTail(t.Context(), []string{"--url", srv.URL, "--topic", "t", "--last-event-id", first, "--json", "--count", "1"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("tail: %v", err)
	}
	var line tailJSON
	if err := json.Unmarshal([]byte(stdout.String()), &line); err != nil {
		t.Fatalf("tail --json printed %q: %v", stdout.String(), err)
	}
	if line.ID != second || line.Event != "two" || line.Topic != "t" || string(line.Data) != "2" {
		t.Errorf("tail printed %+v, want the event after %s", line, first)
	}
}

// tail --json of several topics prints each event's topic, named by the
// stream, not "".
func TestTailJSONSeveralTopics(t *testing.T) {
	t.Parallel()
	app, srv := startCLITestHub(t, hub.Config{})
	from, err := app.Publish(t.Context(), "comments", "before", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, topic := range []string{"comments", "demo"} {
		id, err := app.Publish(t.Context(), topic, "e", topic)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var stdout, stderr lockedBuffer
	err = runTail(t.Context(), []string{"--url", srv.URL, "--topic", "comments,demo", "--last-event-id", from, "--json", "--count", "2"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("tail: %v (stderr %s)", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail --json printed %q, want 2 lines", stdout.String())
	}
	for i, topic := range []string{"comments", "demo"} {
		var line tailJSON
		if err := json.Unmarshal([]byte(lines[i]), &line); err != nil || line.Topic != topic || line.ID != ids[i] {
			t.Errorf("line %d = %s (%v), want the event %s with \"topic\": %q", i, lines[i], err, ids[i], topic)
		}
	}
}

func TestTailRefusals(t *testing.T) {
	t.Parallel()
	_, srv := startCLITestHub(t, hub.Config{})
	for _, args := range [][]string{
		{"--url", srv.URL},
		{"--url", srv.URL, "--topic", "bad topic!"},
		{"--url", "not a url", "--topic", "t"},
	} {
		var stdout, stderr lockedBuffer
		err := runTail(t.Context(), args, &stdout, &stderr)
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("tail %v = %v, want an error", args, err)
		}
	}
}

// startServeForCLI runs the real hub wiring (as `ssevents serve`) on addr,
// with JWT authentication by secret.
func startServeForCLI(t *testing.T, addr, secret string) *Main {
	t.Helper()
	m := NewMain()
	noEnv := func(string) (string, bool) { return "", false }
	if err := m.ParseFlags([]string{"--addr", addr, "--jwt-secret", secret, "--log-level", "error", "--retry-ms", "100"}, noEnv, io.Discard); err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	m.Logger = slog.New(slog.DiscardHandler)
	var err error
	for range 50 { // after a restart, the old port may take a moment to free
		if err = m.Run(t.Context()); err == nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Run on %s: %v", addr, err)
	return nil
}

// TestTailAndPublishAgainstRestartedHub runs publish, tail and token
// against the real hub: tail with a token receives what publish sends, and
// after the hub restarts (losing its in-memory history) it reconnects,
// prints the resync, and goes on.
func TestTailAndPublishAgainstRestartedHub(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef-cli-test"
	var tok bytes.Buffer
	noEnv := func(string) (string, bool) { return "", false }
	if err := RunToken([]string{"--secret", secret, "--sub", "cli", "--publish", "jobs", "--subscribe", "jobs"}, noEnv, time.Now(), &tok, io.Discard); err != nil {
		t.Fatalf("token: %v", err)
	}
	token := strings.TrimSpace(tok.String())

	m := startServeForCLI(t, "127.0.0.1:0", secret)
	hubURL := m.URL()
	addr := strings.TrimPrefix(hubURL, "http://")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runTail(ctx, []string{"--url", hubURL, "--token", token, "--topic", "jobs"}, &stdout, &stderr)
	}()
	waitForOutput(t, &stderr, "connected")
	publish := func(data string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := runPublish(ctx, []string{"--url", hubURL, "--token", token, "--topic", "jobs", "--event", "job", "--data", data}, &out, &errOut); err != nil {
			t.Fatalf("publish: %v", err)
		}
		return strings.TrimSpace(out.String())
	}
	id := publish(`{"n":1}`)
	waitForLine(t, &stdout, tailLineRE("jobs", "job", id, `{"n":1}`))

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	m2 := startServeForCLI(t, addr, secret)
	defer m2.Close()
	waitForLine(t, &stdout, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  jobs +\[resync\] +- +`+
		regexp.QuoteMeta(`{"topics":["jobs"],"topic":"jobs","reason":"dataset_changed","genesis":"`)+`(\d|…)`)) // cut to 120 columns
	waitForOutput(t, &stderr, "refetch their state (dataset_changed)")
	id = publish(`{"n":2}`)
	waitForLine(t, &stdout, tailLineRE("jobs", "job", id, `{"n":2}`))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail = %v, want nil after cancel", err)
	}
	if !strings.Contains(stderr.String(), "reconnecting in") {
		t.Errorf("tail did not report the reconnection on stderr:\n%s", stderr.String())
	}
}
