package compat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// installEventSource copies node/ to a temporary directory and installs
// its locked dependencies there with npm ci, so the test needs node, npm
// and the npm registry (CI has Node 20), never a node_modules in the tree.
// It fails the test, saying what is missing, rather than skip it.
func installEventSource(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to check the npm eventsource package (apt-get install -y nodejs npm): %v", tool, err)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "listen.mjs"} {
		b, err := os.ReadFile(filepath.Join("node", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (examples/compat/node) failed: %v\n%s", err, out)
	}
	return dir
}

// listenNode runs listen.mjs on url for n events and returns what it
// received; before, when not nil, runs once the stream is open.
func listenNode(t *testing.T, dir, url string, n int, before func()) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "listen.mjs", url, strconv.Itoa(n), "tick", "both")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []received
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "open" {
			if before != nil {
				before()
			}
			continue
		}
		var r received
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("listen.mjs printed %q: %v", sc.Text(), err)
			continue
		}
		got = append(got, r)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node listen.mjs %s: %v\n%s", url, err, stderr.String())
	}
	return got
}

// The npm eventsource package delivers named and message events with
// their data and ids when each carries a topic line.
func TestNpmEventSource(t *testing.T) {
	dir := installEventSource(t)
	f := start(t)
	var want []received
	got := listenNode(t, dir, f.srv.URL+"/events?topic=a,b", 3, func() { want = f.publish(t) })
	check(t, "npm eventsource", got, want)
	check(t, "npm eventsource", listenNode(t, dir, f.srv.URL+"/raw", 2, nil), rawWant)
}
