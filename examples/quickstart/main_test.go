package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/ssetest"
)

// startProgram builds and runs the quickstart program on a free loopback
// port, waits until it is ready, and returns its base URL. The process is
// killed when the test ends.
func startProgram(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quickstart")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a cold build on a busy machine
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, "--addr", addr)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/health/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-done:
			t.Fatalf("quickstart exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("quickstart not ready within 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ticket is the JSON of GET /tickets/{id} and of the published event.
type ticket struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func decodeTicket(t *testing.T, s string) ticket {
	t.Helper()
	var tk ticket
	if err := json.Unmarshal([]byte(s), &tk); err != nil {
		t.Fatalf("not a ticket: %v: %q", err, s)
	}
	return tk
}

// TestQuickstart runs the README's program: its page subscribes with the
// browser client to ticket:42 and refetches on every event; a status
// change over REST is published as ticket_status_changed with the JSON
// answered, and GET /tickets/42 then says the new status.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	base := startProgram(t)

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	page := string(b)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d, %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / Content-Type %q, want text/html", ct)
	}
	for _, want := range []string{
		`import { subscribe } from "/ssevents.js";`,
		`subscribe({ url: "/events", topics: ["ticket:42"] })`,
		`sub.on("*",`,
		`fetch("/tickets/42")`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	if tk := decodeTicket(t, ssetest.Request(t, http.MethodGet, base+"/tickets/42", "", "", http.StatusOK)); tk != (ticket{"42", "open"}) {
		t.Errorf("GET /tickets/42 = %+v, want open", tk)
	}
	s := ssetest.Subscribe(t, base+"/events?topic=ticket:42", nil)
	for _, tt := range []struct{ body, want string }{
		{"", "closed"}, // the README's handler: no body closes the ticket
		{`{"status":"open"}`, "open"},
	} {
		answer := decodeTicket(t, ssetest.Request(t, http.MethodPost, base+"/tickets/42/status", "application/json", tt.body, http.StatusOK))
		if answer != (ticket{"42", tt.want}) {
			t.Errorf("POST %q answered %+v, want %s", tt.body, answer, tt.want)
		}
		ev := s.NextNamed("ticket_status_changed", 5*time.Second)
		if got := decodeTicket(t, ev.Data); got != answer || ev.ID == "" {
			t.Errorf("event %+v, want the answer %+v with an id", ev, answer)
		}
		if tk := decodeTicket(t, ssetest.Request(t, http.MethodGet, base+"/tickets/42", "", "", http.StatusOK)); tk != answer {
			t.Errorf("refetch after the event = %+v, want %+v", tk, answer)
		}
	}
}
