package main_test

import (
	"testing"
	"time"
)

// A durable hub restarted (SIGTERM, then the same address and data
// directory) keeps its members: streams that reconnect within the grace
// period make no leave and no second join, on the stream and at the
// webhook; a member that does not come back leaves after the grace period.
func TestPresence_restartIsNoChurn(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	hook := newHookCounter(t)
	addr, dir := freeAddr(t), t.TempDir()
	env := []string{"SSE_DATA_DIR=" + dir, "SSE_JWT_SECRET=" + testSecret, "SSE_PRESENCE=room:*", "SSE_RETRY_MS=200",
		"SSE_PRESENCE_GRACE_SECONDS=3", "SSE_PRESENCE_WEBHOOK_URL=" + hook.url, "SSE_PRESENCE_WEBHOOK_SECRET=" + hookSecret}
	h := startHubProc(t, bin, addr, env...)
	watch := watchPresence(t, h.url(), "room:1", "carl")
	holdAs(t, h.url(), "room:1", "bob")
	openAs(t, h.url(), "room:1", "ann") // does not reconnect: she leaves
	waitUsers(t, h.url(), "room:1", 10*time.Second, "ann", "bob", "carl")
	hook.waitFor(t, "join ann", "join bob", "join carl")

	h.terminate(t, 10*time.Second)
	watch.mu.Lock()
	before := len(watch.changes)
	watch.mu.Unlock()
	h = startHubProc(t, bin, addr, env...)
	// bob and carl reconnect within the grace period; ann leaves after it.
	waitUsers(t, h.url(), "room:1", 10*time.Second, "bob", "carl")
	hook.waitFor(t, "leave ann")
	deadline := time.Now().Add(10 * time.Second)
	for watch.count("leave ann") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	for _, c := range watch.changes[before:] {
		if c != "leave ann" {
			t.Errorf("after the restart the watcher got %q; want ann's leave alone (changes %v)", c, watch.changes[before:])
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for change, ids := range hook.got {
		if len(ids) != 1 {
			t.Errorf("the webhook got %d changes %q, want one", len(ids), change)
		}
	}
	if len(hook.got) != 4 {
		t.Errorf("the webhook got %v, want the three joins and ann's leave", hook.got)
	}
}
