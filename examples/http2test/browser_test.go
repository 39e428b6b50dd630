// Package http2test shows, in headless Chromium, why the hub serves HTTPS
// with HTTP/2: over HTTP/1.1 a browser opens at most six connections to a
// host, so a page's seventh EventSource never connects; over HTTP/2 all of
// them share one connection.
package http2test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/hub"
)

// streams is how many EventSources the test page opens, all to one host:
// more than the six connections per host a browser opens over HTTP/1.1.
const streams = 10

// http1Limit is Chromium's (and every browser's) limit of HTTP/1.1
// connections per host.
const http1Limit = 6

// waitTimeout bounds each wait for the browser or the hub.
const waitTimeout = 10 * time.Second

// page opens the EventSources of the topics t0 ... t9 and records, per
// source, its readyState and the data of the events it received.
var page = fmt.Sprintf(`<!doctype html>
<meta charset="utf-8">
<title>ten streams</title>
<script>
window.sources = [];
window.received = [];
for (let i = 0; i < %d; i++) {
  const es = new EventSource("/events?topic=t" + i);
  window.received.push([]);
  es.addEventListener("ping", (e) => window.received[i].push(e.data));
  window.sources.push(es);
}
window.states = () => window.sources.map((es) => es.readyState);
</script>
<p>ten EventSources</p>
`, streams)

// testHub is a hub served with a test page on one origin.
type testHub struct {
	hub  *hub.Hub
	srv  *httptest.Server
	h2   atomic.Int64 // SSE requests that came over HTTP/2
	http atomic.Int64 // SSE requests that came over HTTP/1.x
}

// startHub serves a hub and, at /page, the test page, on one server: over
// TLS with HTTP/2 when cert is not nil, else plain HTTP/1.1.
func startHub(t *testing.T, cert *tls.Certificate) *testHub {
	t.Helper()
	h, err := hub.New(hub.Config{Config: ssevents.Config{Logger: slog.New(slog.DiscardHandler)}, DisableDemo: true})
	if err != nil {
		t.Fatal(err)
	}
	th := &testHub{hub: h}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			if r.ProtoMajor == 2 {
				th.h2.Add(1)
			} else {
				th.http.Add(1)
			}
		}
		h.ServeHTTP(w, r)
	}))
	th.srv = httptest.NewUnstartedServer(mux)
	if cert != nil {
		th.srv.EnableHTTP2 = true
		th.srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		th.srv.StartTLS()
	} else {
		th.srv.Start()
	}
	t.Cleanup(th.srv.Close)
	t.Cleanup(func() { h.Close() }) // before the server: streams end first
	return th
}

// connections is how many streams the hub serves.
func (th *testHub) connections() int { return th.hub.App().Events().Connections() }

// waitConnections waits until the hub serves n streams.
func (th *testHub) waitConnections(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for th.connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub serves %d streams, want %d", th.connections(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publishAll publishes one "ping" event to each topic, with the topic's
// name as data.
func (th *testHub) publishAll(t *testing.T) {
	t.Helper()
	for i := range streams {
		topic := fmt.Sprintf("t%d", i)
		if _, err := th.hub.App().Publish(context.Background(), topic, "ping", topic); err != nil {
			t.Fatal(err)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and the
// base64 SHA-256 of its public key (SPKI), which Chromium's
// --ignore-certificate-errors-spki-list trusts.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, base64.StdEncoding.EncodeToString(spki[:])
}

// TestTenStreams_HTTP2VersusHTTP1: one page opens ten EventSources to the
// hub's host. Over HTTPS (HTTP/2) all ten connect and each receives its
// topic's event. Over plain HTTP/1.1 exactly six connect; the other four
// stay CONNECTING and receive nothing, even after every topic got an event.
func TestTenStreams_HTTP2VersusHTTP1(t *testing.T) {
	cert, spki := selfSigned(t)
	// The certificate is trusted by its key's hash, for this browser only.
	b := browsertest.NewWith(t, chromedp.Flag("ignore-certificate-errors-spki-list", spki))

	t.Run("HTTPS with HTTP/2", func(t *testing.T) {
		th := startHub(t, &cert)
		p := b.NewPage(t, th.srv.URL+"/page")
		th.waitConnections(t, streams)
		p.WaitFor("ten open EventSources", `window.states().every((s) => s === EventSource.OPEN)`, waitTimeout)
		th.publishAll(t)
		p.WaitFor("an event on each of the ten streams", `window.received.every((r, i) => r.length === 1 && JSON.parse(r[0]) === "t" + i)`, waitTimeout)
		if h2, h1 := th.h2.Load(), th.http.Load(); h2 != streams || h1 != 0 {
			t.Fatalf("SSE requests: %d over HTTP/2, %d over HTTP/1.x; want %d and 0", h2, h1, streams)
		}
		if got := browsertest.Eval[string](p, `performance.getEntriesByType("navigation")[0].nextHopProtocol`); got != "h2" {
			t.Errorf("the page came over %q, want h2", got)
		}
	})

	t.Run("plain HTTP/1.1", func(t *testing.T) {
		th := startHub(t, nil)
		p := b.NewPage(t, th.srv.URL+"/page")
		th.waitConnections(t, http1Limit)
		p.WaitFor("six open EventSources", fmt.Sprintf(`window.states().filter((s) => s === EventSource.OPEN).length === %d`, http1Limit), waitTimeout)
		th.publishAll(t)
		// Every topic got its event: the six open streams receive theirs;
		// the four others have no connection to receive on.
		p.WaitFor("an event on each open stream", `window.sources.every((es, i) => es.readyState !== EventSource.OPEN || window.received[i].length === 1)`, waitTimeout)
		type state struct {
			States   []int `json:"states"`
			Received []int `json:"received"`
		}
		st := browsertest.Eval[state](p, `({states: window.states(), received: window.received.map((r) => r.length)})`)
		open, pending := 0, 0
		for i, s := range st.States {
			switch {
			case s == 1 && st.Received[i] == 1:
				open++
			case s == 0 && st.Received[i] == 0:
				pending++
			default:
				t.Errorf("EventSource %d: readyState %d, %d events; want OPEN with 1 or CONNECTING with none", i, s, st.Received[i])
			}
		}
		if open != http1Limit || pending != streams-http1Limit {
			t.Fatalf("%d open with their event, %d pending; want %d and %d (states %v, received %v)",
				open, pending, http1Limit, streams-http1Limit, st.States, st.Received)
		}
		if n := th.connections(); n != http1Limit {
			t.Fatalf("the hub serves %d streams, want %d", n, http1Limit)
		}
		if h2, h1 := th.h2.Load(), th.http.Load(); h2 != 0 || h1 != http1Limit {
			t.Fatalf("SSE requests: %d over HTTP/2, %d over HTTP/1.x; want 0 and %d", h2, h1, http1Limit)
		}
	})
}
