package main_test

import (
	"strings"
	"testing"
	"time"

	main "github.com/ssevents/ssevents/cmd/ssevents"
)

// tail --presence prints who is present, then joins and leaves; presence
// prints the members; an untracked topic is one clear line.
func TestCLI_tailPresence(t *testing.T) {
	t.Parallel()
	m := startHub(t, "--jwt-secret", testSecret, "--presence", "desk:*", "--presence-grace-seconds", "0")
	tok := hs256(t, tokenSpec{sub: "ann", subscribe: []string{"desk:*"}})
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- main.RunCommand(t.Context(), []string{"tail", "--url", m.URL(), "--token", tok, "--topic", "desk:1", "--presence", "--count", "3"}, &out, &errOut)
	}()
	// bob comes once tail printed the snapshot: his join is then an event
	// (the stream watches from before its snapshot).
	for deadline := time.Now().Add(testTimeout); !strings.Contains(out.String(), "[presence]"); {
		if time.Now().After(deadline) {
			t.Fatalf("tail --presence printed no snapshot: %q (stderr %q)", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	bob := subscribe(t, eventsURL(m, "desk:1"), bearer(hs256(t, tokenSpec{sub: "bob", subscribe: []string{"desk:*"}})))
	deadline := time.Now().Add(testTimeout)
	for !strings.Contains(out.String(), `"user":"bob"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	bob.resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail: %v (stderr %s)", err, errOut.String())
		}
	case <-time.After(testTimeout):
		t.Fatalf("tail did not end after 3 events: %q", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var kinds []string
	for _, l := range lines {
		for _, k := range []string{"[presence]", "[join]", "[leave]"} {
			if strings.Contains(l, k) {
				kinds = append(kinds, k)
			}
		}
	}
	// ann's own join may follow the snapshot that lists her.
	got := strings.Join(kinds, " ")
	if got != "[presence] [join] [leave]" && got != "[presence] [join] [join]" {
		t.Errorf("tail --presence printed %q, want the snapshot, then joins and leaves", out.String())
	}

	subscribe(t, eventsURL(m, "desk:1"), bearer(hs256(t, tokenSpec{sub: "carl", subscribe: []string{"desk:*"}})))
	// bob's leave is the hub's to notice once his stream closed: when tail
	// ended on two joins, it may not have happened yet.
	var pout, perr strings.Builder
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(20 * time.Millisecond) {
		pout.Reset()
		err := main.RunCommand(t.Context(), []string{"presence", "--url", m.URL(), "--token", tok, "--topic", "desk:1"}, &pout, &perr)
		if err == nil && strings.HasPrefix(pout.String(), "desk:1: 1 user, 1 connection\n  carl") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("presence: %v, output %q", err, pout.String())
			break
		}
	}
	err := main.RunCommand(t.Context(), []string{"presence", "--url", m.URL(), "--token", tok, "--topic", "desk"}, &pout, &perr)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("presence of a topic the token may not subscribe to: %v, want the 403", err)
	}
}
