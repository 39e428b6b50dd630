package hub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddrs resolves the address of the client behind a request: the TCP
// peer, unless the peer is a trusted proxy (Config.TrustedProxies), which
// may name the client in X-Forwarded-For or X-Real-IP. Safe for concurrent
// use (it is read-only after newClientAddrs).
type clientAddrs struct {
	trusted []netip.Prefix
}

// newClientAddrs parses the trusted proxies; they were validated with the
// Config (checkTrustedProxy), so an invalid one is skipped here.
func newClientAddrs(cidrs []string) *clientAddrs {
	c := &clientAddrs{}
	for _, s := range cidrs {
		if p, err := parseTrustedProxy(s); err == nil {
			c.trusted = append(c.trusted, p)
		}
	}
	return c
}

// parseTrustedProxy reads a CIDR ("10.0.0.0/8", "fd00::/8") or a single
// address ("127.0.0.1", a /32 or /128).
func parseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkTrustedProxy accepts one item of SSE_TRUSTED_PROXIES.
func checkTrustedProxy(s string) error {
	if _, err := parseTrustedProxy(s); err != nil {
		return fmt.Errorf("%q is not a CIDR (10.0.0.0/8, fd00::/8) or an IP address", s)
	}
	return nil
}

// trusts reports whether a is the address of a trusted proxy.
func (c *clientAddrs) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client is the resolved client of a request.
type client struct {
	addr       netip.Addr // invalid when the peer's address could not be read
	peer       netip.Addr // the TCP peer
	fromHeader bool       // named by a trusted proxy's header, not the TCP peer
}

// key is the client as the per-address limits count it: an IPv4 address
// as it is, an IPv6 address by its leading ipv6Bits bits ("2001:db8::/64":
// a client that holds a whole prefix is one client, not 2^64), and when
// the address could not be read, r's RemoteAddr.
func (c client) key(r *http.Request, ipv6Bits int) string {
	switch {
	case !c.addr.IsValid():
		return r.RemoteAddr
	case c.addr.Is6() && ipv6Bits < 128:
		if p, err := c.addr.Prefix(ipv6Bits); err == nil {
			return p.String()
		}
	}
	return c.addr.String()
}

// resolve returns the client of r. Only a trusted peer's headers are read:
// X-Forwarded-For first, walked from the right past trusted proxies (the
// right-most address that is not a trusted proxy; when all are, the
// left-most; an entry that is not an address ends the walk), then
// X-Real-IP. Anyone else's are ignored: the client is the peer.
func (c *clientAddrs) resolve(r *http.Request) client {
	peer, _ := parseHost(r.RemoteAddr)
	if !peer.IsValid() || !c.trusts(peer) {
		return client{addr: peer, peer: peer}
	}
	if a := c.forwardedFor(r.Header.Values("X-Forwarded-For")); a.IsValid() {
		return client{addr: a, peer: peer, fromHeader: true}
	}
	if a, ok := parseHost(strings.TrimSpace(r.Header.Get("X-Real-Ip"))); ok {
		return client{addr: a, peer: peer, fromHeader: true}
	}
	return client{addr: peer, peer: peer}
}

// forwardedFor returns the client named by X-Forwarded-For values, or an
// invalid address when they name none.
func (c *clientAddrs) forwardedFor(values []string) netip.Addr {
	entries := strings.Split(strings.Join(values, ","), ",")
	var last netip.Addr
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseHost(strings.TrimSpace(entries[i]))
		if !ok {
			break // not written by a proxy we trust: nothing left of it is either
		}
		last = a
		if !c.trusts(a) {
			return a
		}
	}
	return last
}

// parseHost reads an address with or without a port ("203.0.113.9",
// "203.0.113.9:4000", "[2001:db8::1]:443", "2001:db8::1"), unmapping
// IPv4-mapped IPv6 addresses.
func parseHost(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, serr := net.SplitHostPort(s)
		if serr != nil {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap(), true
}

// clientKey is the context key of a request's resolved client.
type clientKey struct{}

// wrap resolves every request's client before next sees it: the request
// carries it in its context (clientOf), and when a trusted proxy named it,
// RemoteAddr becomes that address (without a port, as a proxy gives none),
// so that the core's logs and a user's Authorize see the client too.
func (c *clientAddrs) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl := c.resolve(r)
		r = r.WithContext(context.WithValue(r.Context(), clientKey{}, cl))
		if cl.fromHeader {
			r.RemoteAddr = cl.addr.String()
		}
		next.ServeHTTP(w, r)
	})
}

// clientOf returns the client of r as wrap resolved it; for a request that
// did not pass through wrap (the hub's App mounted elsewhere), the peer.
func clientOf(r *http.Request) client {
	if cl, ok := r.Context().Value(clientKey{}).(client); ok {
		return cl
	}
	a, _ := parseHost(r.RemoteAddr)
	return client{addr: a, peer: a}
}

// isLoopback reports whether r's client is on this machine: the TCP peer
// and the resolved client are both loopback addresses. A request from an
// untrusted peer that carries a forwarding header (X-Forwarded-For,
// Forwarded, X-Real-IP) is not: a reverse proxy on the same host that is
// not in TrustedProxies would otherwise make every client look local.
// Through a trusted loopback proxy, the client it names decides.
func isLoopback(r *http.Request) bool {
	cl := clientOf(r)
	if !cl.fromHeader && (r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "") {
		return false
	}
	return cl.peer.IsLoopback() && cl.addr.IsLoopback()
}

// setForwardedFor names r's client in the X-Forwarded-For of out, a request
// the hub makes on the client's behalf (the webhook call): the resolved
// address alone, never what the client wrote.
func setForwardedFor(out, r *http.Request) {
	if a := clientOf(r).addr; a.IsValid() {
		out.Header.Set("X-Forwarded-For", a.String())
	}
}
