package main_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hubStartTimeout bounds the wait for a started hub process to be ready.
const hubStartTimeout = 10 * time.Second

// buildHub builds this package's ssevents binary into a directory of t
// and returns its path.
func buildHub(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssevents")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a cold build on a busy machine
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address whose port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// hubProc is one `ssevents serve` process.
type hubProc struct {
	addr string
	cmd  *exec.Cmd
	log  *syncBuffer   // stdout and stderr
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, once done is closed
}

// startHubProc runs `ssevents serve --addr addr --demo=false` with the
// SSE_* variables of env (and none inherited), waits until it answers
// /health/ready, and kills it when the test ends if it still runs.
func startHubProc(t *testing.T, bin, addr string, env ...string) *hubProc {
	t.Helper()
	h := &hubProc{addr: addr, log: &syncBuffer{}, done: make(chan struct{})}
	h.cmd = exec.Command(bin, "serve", "--addr", addr, "--demo=false")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSE_") {
			h.cmd.Env = append(h.cmd.Env, kv)
		}
	}
	h.cmd.Env = append(h.cmd.Env, env...)
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	dieWithParent(h.cmd)
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start ssevents serve: %v", err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	})
	c := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(hubStartTimeout); ; {
		if resp, err := c.Get(h.url() + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		select {
		case <-h.done:
			t.Fatalf("ssevents serve on %s exited at start (%v):\n%s", addr, h.err, h.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssevents serve on %s not ready within %v:\n%s", addr, hubStartTimeout, h.log)
		}
	}
}

// url is the hub's base URL.
func (h *hubProc) url() string { return "http://" + h.addr }

// connections returns the hub's open streams, from /health/live; 0 when
// it does not answer.
func (h *hubProc) connections() int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(h.url() + "/health/live")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var body struct{ Connections int }
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return 0
	}
	return body.Connections
}

// terminate sends SIGTERM and waits up to limit for the process to exit.
// It fails the test unless the process exits with status 0 in time, and
// returns how long it took.
func (h *hubProc) terminate(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-h.done:
	case <-time.After(limit):
		t.Fatalf("ssevents serve on %s still runs %v after SIGTERM:\n%s", h.addr, limit, h.log)
	}
	took := time.Since(start)
	if h.err != nil {
		t.Fatalf("ssevents serve on %s exited with %v after SIGTERM, want status 0:\n%s", h.addr, h.err, h.log)
	}
	return took
}
