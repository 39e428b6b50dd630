package faultproxy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy is a TCP proxy from a loopback port to an upstream address, with
// faults switched on and off by the test. Its methods are safe for
// concurrent use; after the test ends the proxy is stopped and its
// connections are closed.
type Proxy struct {
	t     testing.TB
	mu    sync.Mutex // serializes fault changes
	proxy *toxiproxy.Proxy
	addr  string
}

// Start starts a proxy on a free loopback port that forwards every
// connection to upstreamAddr ("127.0.0.1:6379"), with no fault, and stops
// it when the test ends.
func Start(t testing.TB, upstreamAddr string) *Proxy {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "faultproxy-"+upstreamAddr, "127.0.0.1:0", upstreamAddr)
	if err := p.Start(); err != nil {
		t.Fatalf("start proxy to %s: %v", upstreamAddr, err)
	}
	fp := &Proxy{t: t, proxy: p, addr: p.Listen}
	t.Cleanup(p.Stop)
	return fp
}

// Addr returns the proxy's address, "127.0.0.1:<port>": connect there
// instead of to the upstream. It stays the same across CutAll.
func (p *Proxy) Addr() string { return p.addr }

// Blackhole stops all data through the proxy, in both directions, on the
// connections open now and on new ones (which the proxy still accepts):
// nothing is closed, nothing arrives, as in a network partition where no
// RST comes back. Heal ends it.
func (p *Proxy) Blackhole() {
	p.t.Helper()
	for _, dir := range []string{"upstream", "downstream"} {
		p.add("blackhole_"+dir, "timeout", dir, `{"timeout":0}`)
	}
}

// LoseReplies lets every byte through to the upstream and drops every byte
// it sends back, on the connections open now and on new ones: a request
// reaches the server and runs there, and its answer is lost, as when the
// server dies or the network fails right after it acted. Heal ends it.
func (p *Proxy) LoseReplies() {
	p.t.Helper()
	p.add("blackhole_downstream", "timeout", "downstream", `{"timeout":0}`)
}

// Latency delays the data that comes back from the upstream by d, so a
// request's round trip through the proxy takes at least d longer. Heal
// ends it.
func (p *Proxy) Latency(d time.Duration) {
	p.t.Helper()
	p.add("latency_downstream", "latency", "downstream", fmt.Sprintf(`{"latency":%d}`, d.Milliseconds()))
}

// Heal removes every fault. The connections that went through a blackhole
// are closed (their dropped bytes would garble whatever follows: the
// client must reconnect, as after a real partition); those only delayed
// stay open. New connections work normally.
func (p *Proxy) Heal() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proxy.Toxics.ResetToxics(context.Background())
}

// CutAll closes every connection through the proxy, as a restarted load
// balancer or a NAT that forgot its table would; new connections are
// accepted again when it returns, on the same address. Faults stay in
// place.
func (p *Proxy) CutAll() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proxy.Stop()
	// The proxy listens on the address it had: p.proxy.Listen was set to
	// the port it got at Start.
	if err := p.proxy.Start(); err != nil {
		p.t.Fatalf("restart proxy on %s: %v", p.addr, err)
	}
}

// add adds one toxic, replacing none: each fault has a fixed name.
func (p *Proxy) add(name, typ, stream, attrs string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proxy.Toxics.GetToxic(name) != nil {
		return
	}
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		p.t.Fatalf("add %s toxic to the proxy: %v", typ, err)
	}
}
