package hub_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// TestPublishRate_ipv6Prefix publishes with a token that has no subject
// (so each client address has a bucket of one publish a second) from
// several addresses at one instant, and checks which share a bucket: the
// IPv6 addresses of one prefix (a /64 by default, IPv6PrefixBits when
// set), while IPv4 addresses, IPv4-mapped ones included, each have their
// own.
func TestPublishRate_ipv6Prefix(t *testing.T) {
	t.Parallel()
	type step struct {
		remote string
		status int
	}
	ok, refused := http.StatusOK, http.StatusTooManyRequests
	for _, tc := range []struct {
		name  string
		bits  int
		steps []step
	}{
		{"default /64", 0, []step{
			{"[2001:db8:1:2::1]:1", ok},
			{"[2001:db8:1:2::2]:1", refused},
			{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", refused},
			{"[2001:db8:1:3::1]:1", ok},
			{"203.0.113.1:1", ok},
			{"203.0.113.2:1", ok},
			{"[::ffff:203.0.113.3]:1", ok},
			{"203.0.113.3:2", refused},
		}},
		{"/48", 48, []step{
			{"[2001:db8:1:2::1]:1", ok},
			{"[2001:db8:1:3::1]:1", refused},
			{"[2001:db8:2::1]:1", ok},
			{"203.0.113.1:1", ok},
			{"203.0.113.2:1", ok},
		}},
		{"/128: every address", 128, []step{
			{"[2001:db8:1:2::1]:1", ok},
			{"[2001:db8:1:2::2]:1", ok},
			{"[2001:db8:1:2::1]:2", refused},
		}},
		{"/1", 1, []step{
			{"[2001:db8::1]:1", ok},
			{"[3fff::1]:1", refused},
			{"[8000::1]:1", ok},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHub(t, hub.Config{JWTSecret: testSecret, PublishRate: 1, IPv6PrefixBits: tc.bits})
				header := http.Header{"Authorization": {"Bearer " + subjectToken(t, "")}}
				for i, s := range tc.steps {
					w := serve(t, h, publishRequest(header), s.remote)
					if w.Code != s.status {
						t.Fatalf("step %d, from %s: status %d, want %d; body %s", i, s.remote, w.Code, s.status, w.Body)
					}
					if s.status == refused {
						wantAnswer(t, w, s.status, "per client address")
					}
				}
			})
		})
	}
}

// TestMaxConnectionsPerIP_ipv6Prefix opens streams of IPv6 clients named
// by a trusted proxy, with a limit of one stream per client, and checks
// that a second address of the first one's prefix is refused while an
// address of another prefix is not.
func TestMaxConnectionsPerIP_ipv6Prefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		bits   int
		second string // a second address of the first stream's /64
		other  string // an address outside the counted prefix
	}{
		{"default /64", 0, "2001:db8:1:2:aaaa::5", "2001:db8:1:3::1"},
		{"/56", 56, "2001:db8:1:ff::1", "2001:db8:1:100::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startHub(t, hub.Config{TrustedProxies: []string{"127.0.0.1"}, MaxConnectionsPerIP: 1, IPv6PrefixBits: tc.bits})
			wantStream(t, srv, xff("2001:db8:1:2::1"))
			wantStreamRefused(t, srv, xff(tc.second))
			wantStream(t, srv, xff(tc.other))
			wantStream(t, srv, xff("203.0.113.1"))
			wantStream(t, srv, xff("203.0.113.2"))
		})
	}
}

// TestIPv6PrefixBits_invalid checks that a prefix length outside 1 to 128
// fails at start with a clear error, from the variable and from the field.
func TestIPv6PrefixBits_invalid(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "129", "-1", "64x", "/64"} {
		var cfg hub.Config
		err := cfg.ApplyLookup(func(k string) (string, bool) { return v, k == "SSE_IPV6_PREFIX_BITS" })
		if !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(fmt.Sprint(err), "SSE_IPV6_PREFIX_BITS") ||
			!strings.Contains(fmt.Sprint(err), "1 to 128") {
			t.Errorf("SSE_IPV6_PREFIX_BITS=%q: error %v, want ErrInvalidConfig naming the variable and 1 to 128", v, err)
		}
	}
	for _, bits := range []int{-1, 129} {
		h, err := hub.New(hub.Config{IPv6PrefixBits: bits})
		if err == nil {
			h.Close()
		}
		if want := fmt.Sprintf("IPv6PrefixBits is %d", bits); !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("IPv6PrefixBits %d: error %v, want ErrInvalidConfig saying %q", bits, err, want)
		}
	}
	var cfg hub.Config
	if err := cfg.ApplyLookup(func(k string) (string, bool) { return "48", k == "SSE_IPV6_PREFIX_BITS" }); err != nil || cfg.IPv6PrefixBits != 48 {
		t.Errorf("SSE_IPV6_PREFIX_BITS=48: IPv6PrefixBits %d, error %v", cfg.IPv6PrefixBits, err)
	}
}
