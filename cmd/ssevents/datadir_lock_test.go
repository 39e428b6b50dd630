package main_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exitLimit bounds how long `ssevents serve` may take to refuse to start:
// "at once", on a busy machine.
const exitLimit = 5 * time.Second

// refusal is how a `ssevents serve` that refused to start ended.
type refusal struct {
	code int
	out  string // stdout and stderr
	took time.Duration
}

// runRefused runs `ssevents serve` with args and the SSE_* variables of
// env (none inherited), and fails the test unless it exits with a
// non-zero status within exitLimit.
func runRefused(t *testing.T, bin string, args []string, env ...string) refusal {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", freeAddr(t), "--demo=false"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	dieWithParent(cmd)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := refusal{out: string(out), took: time.Since(start)}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("ssevents serve %q with %q: %v after %v, want a non-zero exit status:\n%s", args, env, err, r.took, out)
	}
	r.code = exit.ExitCode()
	if r.took > exitLimit {
		t.Errorf("ssevents serve %q with %q exited after %v, want it at once (within %v)", args, env, r.took, exitLimit)
	}
	return r
}

// dirFiles returns the contents of the regular files of dir, by name.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if out[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// testDataDirLock: a second `ssevents serve` on the data directory of a
// running one (by flag or by SSE_DATA_DIR) exits at once, non-zero, with
// a message that names the directory, and touches none of its files; the
// first keeps serving, its history whole.
func testDataDirLock(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "data")
	h := startDurableHub(t, bin, dir)
	ids := []string{mustPost(t, h, []string{"lock"}, payload("before", 100))}
	files := dirFiles(t, dir)
	for _, second := range []struct {
		args, env []string
	}{
		{args: []string{"--data-dir", dir}},
		{env: []string{"SSE_DATA_DIR=" + dir}},
	} {
		r := runRefused(t, bin, second.args, second.env...)
		if !strings.Contains(r.out, dir) || !strings.Contains(r.out, "in use") {
			t.Errorf("the second hub (%q %q) said %q; want a message that %s is in use", second.args, second.env, r.out, dir)
		}
		t.Logf("the second hub exited %d after %v: %s", r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.out))
	}
	after := dirFiles(t, dir)
	for name, b := range files {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed while the second hub tried the directory", name)
		}
	}
	if len(after) != len(files) {
		t.Errorf("files %v after the second hub, want %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(files)))
	}
	ids = append(ids, mustPost(t, h, []string{"lock"}, payload("after", 100)))
	r := readHistory(t, h, []string{"lock"}, readDataset(t, dir).First)
	if !slices.Equal(r.ids(), ids) || len(r.resyncs) != 0 {
		t.Errorf("the first hub's history: %v, resyncs %+v; want %v", r.ids(), r.resyncs, ids)
	}
}

// testDataDirRedisRefused: `ssevents serve` with a data directory and a
// Redis broker exits at once, before any Redis is needed, with a message
// that names SSE_DATA_DIR and says that Redis keeps its own history.
func testDataDirRedisRefused(t *testing.T, bin string) {
	const redisURL = "redis://127.0.0.1:1" // nothing listens there
	tests := []struct {
		name      string
		args, env []string
	}{
		{"--data-dir and SSE_REDIS_URL", []string{"--data-dir", "{dir}"}, []string{"SSE_REDIS_URL=" + redisURL}},
		{"SSE_DATA_DIR and --redis-url", []string{"--redis-url", redisURL}, []string{"SSE_DATA_DIR={dir}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			args := slices.Clone(tt.args)
			env := slices.Clone(tt.env)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "{dir}", dir)
			}
			for i := range env {
				env[i] = strings.ReplaceAll(env[i], "{dir}", dir)
			}
			r := runRefused(t, bin, args, env...)
			for _, want := range []string{"SSE_DATA_DIR", "redis", "keeps its own history"} {
				if !strings.Contains(r.out, want) {
					t.Errorf("ssevents serve said %q; want it to contain %q", r.out, want)
				}
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused hub made its data directory: %v", err)
			}
			t.Logf("exited %d after %v: %s", r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.out))
		})
	}
}
