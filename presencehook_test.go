package ssevents_test

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// hookRecorder is a presence webhook that fails the first attempt of each
// change with 500, then takes it.
type hookRecorder struct {
	t      *testing.T
	secret string

	mu       sync.Mutex
	attempts map[string]int               // by SSE-Delivery
	got      map[string]sse.PresenceEvent // taken, by id
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if sig := r.Header.Get(ssevents.PresenceSignatureHeader); !hmac.Equal([]byte(sig), []byte(ssevents.SignPresence(h.secret, body))) {
		h.t.Errorf("webhook request signed %q, want the HMAC of its body", sig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev sse.PresenceEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(ssevents.PresenceDeliveryHeader) || ev.Type != r.Header.Get(ssevents.PresenceEventHeader) {
		h.t.Errorf("webhook body %s (headers %v) is not the change its headers name", body, r.Header)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts[ev.ID]++
	if h.attempts[ev.ID] == 1 {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	h.got[ev.ID] = ev
}

// taken returns the changes taken, by type and user.
func (h *hookRecorder) taken() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, ev := range h.got {
		out[ev.Type+" "+ev.User]++
	}
	return out
}

// The webhook gets each join and leave although it answers 500 first;
// OnPresence gets each once; the failures are counted.
func TestPresence_webhookAndOnPresence(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef-presence"
	rec := &hookRecorder{t: t, secret: secret, attempts: map[string]int{}, got: map[string]sse.PresenceEvent{}}
	hook := httptest.NewServer(rec)
	t.Cleanup(hook.Close)
	cfg := presenceConfig(200 * time.Millisecond)
	cfg.PresenceWebhookURL, cfg.PresenceWebhookSecret = hook.URL, secret
	app, srv := newServer(t, cfg)
	var mu sync.Mutex
	seen := map[string]int{}
	app.OnPresence(func(ev sse.PresenceEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen[ev.Type+" "+ev.User]++
	})
	for _, u := range []string{"ann", "bob", "carl"} {
		s := subscribe(t, srv.URL+"/events?topic=room:9", as(u))
		waitSnapshot(t, app, "room:9", 1, 1)
		s.close()
		waitSnapshot(t, app, "room:9", 0, 0)
	}
	want := map[string]int{"join ann": 1, "leave ann": 1, "join bob": 1, "leave bob": 1, "join carl": 1, "leave carl": 1}
	waitFor(t, "the webhook to take all six changes", 30*time.Second, func() bool { return len(rec.taken()) == len(want) })
	for k, n := range rec.taken() {
		if want[k] != n {
			t.Errorf("webhook took %q %d times, want %d", k, n, want[k])
		}
	}
	mu.Lock()
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("OnPresence saw %q %d times, want once", k, seen[k])
		}
	}
	mu.Unlock()
	m := app.Metrics().Snapshot().Presence
	if m.WebhookFailures < 6 || m.Joins != 3 || m.Leaves != 3 {
		t.Errorf("presence metrics = %+v, want >= 6 webhook failures, 3 joins, 3 leaves", m)
	}
}
