package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTailJSONProcess runs the built `ssevents tail --json` as a process
// against a live hub: one JSON object a line on its stdout (a pipe, so no
// colour), with time, topic, event, id and data, and exit status 0 after
// --count events.
func TestTailJSONProcess(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	m := startHub(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "tail", "--url", m.URL(), "--topic", "orders", "--json", "--count", "2")
	cmd.Env = append(os.Environ(), "NO_COLOR=")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitConnections(t, m, 1)
	before := time.Now().Add(-time.Second)
	id1 := mustPublish(t, m, `{"topic": "orders", "event": "created", "data": {"n": 1, "items": ["a", "b"]}}`, nil)
	id2 := mustPublish(t, m, `{"topic": "orders", "event": "paid", "data": "seven"}`, nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(testTimeout):
		t.Fatalf("tail did not exit after 2 events; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("tail --json printed colour escapes: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []struct{ id, event, data string }{{id1, "created", `{"n":1,"items":["a","b"]}`}, {id2, "paid", `"seven"`}} {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(lines[i]), &obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i, err, lines[i])
		}
		var ev struct {
			Time  time.Time       `json:"time"`
			Topic string          `json:"topic"`
			Event string          `json:"event"`
			ID    string          `json:"id"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if len(obj) != 5 || ev.Topic != "orders" || ev.Event != want.event || ev.ID != want.id || string(ev.Data) != want.data {
			t.Errorf("line %d = %s, want topic orders, event %s, id %s, data %s and no other field", i, lines[i], want.event, want.id, want.data)
		}
		if ev.Time.Before(before) || ev.Time.After(time.Now()) {
			t.Errorf("line %d: time %v, want the time of receipt", i, ev.Time)
		}
	}
	if !strings.Contains(stderr.String(), "tail: connected to "+m.URL()) {
		t.Errorf("stderr = %q, want the connection reported there", stderr.String())
	}
}
