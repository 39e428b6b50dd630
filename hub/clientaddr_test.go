package hub_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// TestClientAddr resolves the client address of requests from peers with
// forwarding headers: only a trusted proxy's headers count, and
// X-Forwarded-For is read from the right, past trusted proxies.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	local, private := []string{"127.0.0.1"}, []string{"10.0.0.0/8", "fd00::/8"}
	for _, tc := range []struct {
		name    string
		trusted []string
		remote  string
		header  http.Header
		want    string
	}{
		{"no header", nil, "203.0.113.9:4000", nil, "203.0.113.9"},
		{"untrusted peer's X-Forwarded-For ignored", nil, "203.0.113.9:4000", xff("198.51.100.7"), "203.0.113.9"},
		{"untrusted peer's X-Real-IP ignored", nil, "203.0.113.9:4000", http.Header{"X-Real-Ip": {"198.51.100.7"}}, "203.0.113.9"},
		{"loopback peer not trusted by default", nil, "127.0.0.1:4000", xff("198.51.100.7"), "127.0.0.1"},
		{"peer outside the trusted range", private, "192.0.2.1:4000", xff("198.51.100.7"), "192.0.2.1"},
		{"trusted proxy names the client", local, "127.0.0.1:4000", xff("203.0.113.9"), "203.0.113.9"},
		{"client's own entry ignored", private, "10.1.2.3:4000", xff("198.51.100.7, 203.0.113.9, 10.0.0.5"), "203.0.113.9"},
		{"several header lines", private, "10.1.2.3:4000", xff("198.51.100.7", "203.0.113.9, 10.0.0.5"), "203.0.113.9"},
		{"every entry a trusted proxy", private, "10.1.2.3:4000", xff("10.0.0.7, 10.0.0.5"), "10.0.0.7"},
		{"garbage ends the walk", private, "10.1.2.3:4000", xff("198.51.100.7, junk, 203.0.113.9"), "203.0.113.9"},
		{"garbage at the right: the peer", private, "10.1.2.3:4000", xff("203.0.113.9, junk"), "10.1.2.3"},
		{"entry with a port", local, "127.0.0.1:4000", xff("203.0.113.9:1234"), "203.0.113.9"},
		{"IPv6 entry with a port", local, "127.0.0.1:4000", xff("[2001:db8::1]:443"), "2001:db8::1"},
		{"X-Real-IP from a trusted proxy", local, "127.0.0.1:4000", http.Header{"X-Real-Ip": {"203.0.113.9"}}, "203.0.113.9"},
		{"X-Forwarded-For before X-Real-IP", local, "127.0.0.1:4000", http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"198.51.100.7"}}, "203.0.113.9"},
		{"trusted proxy without a header", local, "127.0.0.1:4000", nil, "127.0.0.1"},
		{"Forwarded is not read", local, "127.0.0.1:4000", http.Header{"Forwarded": {"for=203.0.113.9"}}, "127.0.0.1"},
		{"IPv6 proxy", private, "[fd00::1]:4000", xff("2001:db8::7"), "2001:db8::7"},
		{"IPv4-mapped peer", private, "[::ffff:10.0.0.1]:4000", xff("203.0.113.9"), "203.0.113.9"},
		{"unreadable peer", local, "pipe", xff("203.0.113.9"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := hub.ClientAddr(tc.trusted, tc.remote, tc.header); got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
		})
	}
}

// xff is an X-Forwarded-For header of values.
func xff(values ...string) http.Header { return http.Header{"X-Forwarded-For": values} }

// TestTrustedProxies_invalid checks that a value that is not a CIDR or an
// address fails at start, naming the variable (or the field).
func TestTrustedProxies_invalid(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"10.0.0.0/33", "10.0.0.300", "proxy.internal", "10.0.0.0/8, nope"} {
		var cfg hub.Config
		err := cfg.ApplyLookup(func(k string) (string, bool) { return v, k == "SSE_TRUSTED_PROXIES" })
		if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(fmt.Sprint(err), "SSE_TRUSTED_PROXIES") {
			t.Errorf("SSE_TRUSTED_PROXIES=%q: error %v, want ErrInvalidConfig naming the variable", v, err)
		}
		if h, err := hub.New(hub.Config{TrustedProxies: []string{v}}); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
			if h != nil {
				h.Close()
			}
			t.Errorf("TrustedProxies %q: error %v, want one naming the field", v, err)
		}
	}
	var cfg hub.Config
	if err := cfg.ApplyLookup(func(k string) (string, bool) { return "10.0.0.0/8, 127.0.0.1, fd00::/8", k == "SSE_TRUSTED_PROXIES" }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TrustedProxies, " "); got != "10.0.0.0/8 127.0.0.1 fd00::/8" {
		t.Errorf("TrustedProxies %q", got)
	}
}

// TestWebhook_getsTheResolvedClient checks what the webhook receives as
// the client's address, and what the core (its logs, a user's Authorize)
// sees as RemoteAddr: the resolved client, never the client's own
// X-Forwarded-For.
func TestWebhook_getsTheResolvedClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		trusted    []string
		header     http.Header
		wantHook   string
		wantRemote string // prefix of the core's RemoteAddr
	}{
		{"no proxy", nil, nil, "127.0.0.1", "127.0.0.1:"},
		{"spoofed header, no trusted proxy", nil, xff("198.51.100.7"), "127.0.0.1", "127.0.0.1:"},
		{"through a trusted proxy", []string{"127.0.0.0/8"}, xff("198.51.100.7, 203.0.113.9"), "203.0.113.9", "203.0.113.9"},
		{"trusted proxy, X-Real-IP", []string{"127.0.0.1"}, http.Header{"X-Real-Ip": {"203.0.113.9"}}, "203.0.113.9", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var hooks, remotes []string
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hooks = append(hooks, strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"allow": true}`))
			}))
			t.Cleanup(app.Close)
			srv := startHub(t, hub.Config{
				Config: ssevents.Config{Authorize: func(r *http.Request, _ []string) error {
					mu.Lock()
					remotes = append(remotes, r.RemoteAddr)
					mu.Unlock()
					return nil
				}},
				AuthorizeURL: app.URL, AuthorizeCacheTTL: -1, TrustedProxies: tc.trusted,
			})
			checkAnswer(t, subscribeAnswer(t, srv, "a", tc.header), http.StatusOK, "")
			mu.Lock()
			defer mu.Unlock()
			if len(hooks) != 1 || hooks[0] != tc.wantHook {
				t.Errorf("webhook got X-Forwarded-For %q, want [%q]", hooks, tc.wantHook)
			}
			if len(remotes) != 1 || !strings.HasPrefix(remotes[0], tc.wantRemote) {
				t.Errorf("core saw RemoteAddr %q, want %q", remotes, tc.wantRemote)
			}
		})
	}
}

// TestLoopbackOnlyPublish_trustedProxies checks the loopback-only publish
// rule (no JWT key) with trusted proxies: the client a trusted loopback
// proxy names decides, an untrusted peer's headers cannot make it local,
// and a request with a header no one trusts is not local either.
func TestLoopbackOnlyPublish_trustedProxies(t *testing.T) {
	t.Parallel()
	const refused = "only from loopback"
	local, private := []string{"127.0.0.1", "::1"}, []string{"10.0.0.0/8"}
	for _, tc := range []struct {
		name    string
		trusted []string
		remote  string
		header  http.Header
		status  int
	}{
		{"trusted loopback proxy, remote client", local, "127.0.0.1:5000", xff("203.0.113.9"), http.StatusForbidden},
		{"trusted loopback proxy, spoofed loopback entry", local, "127.0.0.1:5000", xff("127.0.0.1, 203.0.113.9"), http.StatusForbidden},
		{"trusted loopback proxy, X-Real-IP of a remote client", local, "127.0.0.1:5000", http.Header{"X-Real-Ip": {"203.0.113.9"}}, http.StatusForbidden},
		{"trusted loopback proxy, local client", local, "127.0.0.1:5000", xff("127.0.0.1"), http.StatusOK},
		{"trusted IPv6 loopback proxy, local client", local, "[::1]:5000", xff("::1"), http.StatusOK},
		{"trusted loopback proxy, no header", local, "127.0.0.1:5000", nil, http.StatusOK},
		{"trusted loopback proxy, only Forwarded", local, "127.0.0.1:5000", http.Header{"Forwarded": {"for=203.0.113.9"}}, http.StatusForbidden},
		{"trusted remote proxy, its own loopback client", private, "10.0.0.2:5000", xff("127.0.0.1"), http.StatusForbidden},
		{"untrusted peer claiming loopback", local, "203.0.113.9:5000", xff("127.0.0.1"), http.StatusForbidden},
		{"untrusted peer claiming loopback, X-Real-IP", nil, "203.0.113.9:5000", http.Header{"X-Real-Ip": {"127.0.0.1"}}, http.StatusForbidden},
		{"untrusted loopback proxy", nil, "127.0.0.1:5000", xff("127.0.0.1"), http.StatusForbidden},
		{"loopback, no proxy configured", nil, "127.0.0.1:5000", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, hub.Config{TrustedProxies: tc.trusted})
			wantAnswer(t, serve(t, h, publishRequest(tc.header), tc.remote), tc.status, refused)
		})
	}
}
