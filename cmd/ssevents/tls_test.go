package main_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/wire"
)

// tlsPair is a self-signed certificate for localhost and 127.0.0.1 and its
// key, written as PEM files to a temporary directory.
type tlsPair struct {
	certFile, keyFile string
	pool              *x509.CertPool // trusts the certificate
}

// localhostCert is the template of a server certificate for localhost and
// 127.0.0.1, valid for a day.
func localhostCert(serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
}

// newTLSPair makes a self-signed ECDSA P-256 pair, as the README's openssl
// command does.
func newTLSPair(t *testing.T) tlsPair {
	t.Helper()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := localhostCert(time.Now().UnixNano())
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	keyDER := must(x509.MarshalPKCS8PrivateKey(key))
	p := tlsPair{
		certFile: writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyFile:  writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		pool:     x509.NewCertPool(),
	}
	p.pool.AddCert(must(x509.ParseCertificate(der)))
	return p
}

// client returns an HTTP client that trusts the pair and speaks HTTP/2
// (and HTTP/1.1 when the server offers nothing else).
func (p tlsPair) client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// do sends a request through c with testTimeout, and fails the test unless
// it was answered over HTTP/2. The response is closed when the test ends.
func do(t *testing.T, c *http.Client, method, rawURL, body string, header http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s %s answered over %s, want HTTP/2", method, rawURL, resp.Proto)
	}
	return resp
}

// TestServe_httpsWithHTTP2: with --tls-cert-file and --tls-key-file the
// hub serves HTTPS, and streams over HTTP/2 deliver, resume from
// Last-Event-ID and meet the connection limit as over HTTP/1.1.
func TestServe_httpsWithHTTP2(t *testing.T) {
	t.Parallel()
	p := newTLSPair(t)
	m := startHub(t, "--tls-cert-file", p.certFile, "--tls-key-file", p.keyFile, "--max-connections", "2")
	if !strings.HasPrefix(m.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https://127.0.0.1:port", m.URL())
	}
	c := p.client(t)
	publishTLS := func(body string) string {
		t.Helper()
		resp := do(t, c, http.MethodPost, m.URL()+"/publish", body, http.Header{"Content-Type": {"application/json"}})
		id, _ := decodeJSON(t, resp)["id"].(string)
		if resp.StatusCode != http.StatusOK || id == "" {
			t.Fatalf("publish %s: status %d, id %q", body, resp.StatusCode, id)
		}
		return id
	}
	open := func(header http.Header) *stream {
		t.Helper()
		resp := do(t, c, http.MethodGet, eventsURL(m, "a"), "", header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /events: status %d", resp.StatusCode)
		}
		return &stream{t: t, resp: resp, parser: wire.NewParser(resp.Body)}
	}

	s := open(nil)
	waitConnections(t, m, 1)
	first := publishTLS(`{"topic": "a", "event": "one", "data": 1}`)
	second := publishTLS(`{"topic": "a", "event": "two", "data": 2}`)
	for _, want := range []sseEvent{{first, "one", "1"}, {second, "two", "2"}} {
		if got := s.next(); got != want {
			t.Fatalf("event %+v, want %+v", got, want)
		}
	}
	r := open(http.Header{"Last-Event-ID": {first}})
	if got, want := r.next(), (sseEvent{second, "two", "2"}); got != want {
		t.Fatalf("resumed with %+v, want %+v", got, want)
	}
	wantError(t, do(t, c, http.MethodGet, eventsURL(m, "a"), "", nil), http.StatusServiceUnavailable, "limit")
	third := publishTLS(`{"topic": "a", "event": "three", "data": 3}`)
	for _, st := range []*stream{s, r} {
		if got, want := st.next(), (sseEvent{third, "three", "3"}); got != want {
			t.Fatalf("after the refused stream: %+v, want %+v", got, want)
		}
	}
}

// TestServe_startErrors runs `ssevents serve` with a command line or
// files it cannot serve with: each exits non-zero (2 for a value that is
// wrong on its face, 1 for what fails when tried) with one line on stderr
// that says what is wrong, and never logs "hub ready". With a good TLS
// pair it logs "hub ready" with the https:// URL it serves HTTP/2 on.
func TestServe_startErrors(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	good, other := newTLSPair(t), newTLSPair(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	notPEM := writeFile(t, "notes.txt", []byte("hello"))
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want string // on stderr's last line, which must be the only "ssevents:" line
	}{
		{"address without port", []string{"--addr", "nonsense"}, nil, 2, `SSE_ADDR="nonsense": missing port in address; want host:port`},
		{"address with a bad port", []string{"--addr", "127.0.0.1:99999"}, nil, 2, `SSE_ADDR="127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
		{"address in use", []string{"--addr", busy.Addr().String()}, nil, 1, "cannot listen on " + busy.Addr().String() + " (SSE_ADDR): bind: address already in use"},
		{"broker URL of another scheme", []string{"--redis-url", "http://user:hunter2@x"}, nil, 2,
			`SSE_REDIS_URL="http://user:xxxxx@x": no broker registered for URL scheme "http"; accepted: memory://, redis://, redis+cluster://, redis+sentinel://, rediss://`},
		{"broker URL from the variable", nil, []string{"SSE_REDIS_URL=nats://x"}, 2, `SSE_REDIS_URL="nats://x": no broker registered for URL scheme "nats"; accepted: memory://`},
		{"certificate without key", []string{"--tls-cert-file", good.certFile}, nil, 2, "SSE_TLS_CERT_FILE (--tls-cert-file) is set but SSE_TLS_KEY_FILE (--tls-key-file) is not"},
		{"key without certificate", nil, []string{"SSE_TLS_KEY_FILE=" + good.keyFile}, 2, "SSE_TLS_KEY_FILE (--tls-key-file) is set but SSE_TLS_CERT_FILE (--tls-cert-file) is not"},
		{"missing certificate", []string{"--tls-cert-file", "/nonexistent/cert.pem", "--tls-key-file", good.keyFile}, nil, 1,
			"cannot read the TLS certificate file (SSE_TLS_CERT_FILE): open /nonexistent/cert.pem: no such file or directory"},
		{"missing key", []string{"--tls-cert-file", good.certFile, "--tls-key-file", "/nonexistent/key.pem"}, nil, 1,
			"cannot read the TLS key file (SSE_TLS_KEY_FILE): open /nonexistent/key.pem: no such file or directory"},
		{"certificate not PEM", []string{"--tls-cert-file", notPEM, "--tls-key-file", good.keyFile}, nil, 1, "TLS certificate file " + notPEM + " holds no PEM CERTIFICATE block"},
		{"key file holds a certificate", []string{"--tls-cert-file", good.certFile, "--tls-key-file", good.certFile}, nil, 1, "TLS key file " + good.certFile + " holds no PEM private key"},
		{"key of another certificate", []string{"--tls-cert-file", good.certFile, "--tls-key-file", other.keyFile}, nil, 1,
			"TLS key file " + other.keyFile + " does not hold the private key of the certificate in " + good.certFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"serve", "--addr", "127.0.0.1:0", "--demo=false"}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(args, tt.args...)...)
			cmd.Env = append(envWithoutSSE(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Fatalf("exit: %v, want status %d; stderr:\n%s", err, tt.code, stderr.String())
			}
			out := stderr.String()
			if strings.Contains(out, "hub ready") || stdout.Len() > 0 {
				t.Errorf("stdout %q, stderr %q: want nothing on stdout and no \"hub ready\"", stdout.String(), out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "ssevents: ") || !strings.Contains(last, tt.want) || strings.Count(out, "ssevents: ") != 1 {
				t.Errorf("stderr:\n%s\nwant one line \"ssevents: ...\" containing %q", out, tt.want)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("stderr shows the URL's password: %s", out)
			}
		})
	}
	t.Run("good pair", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		log := &syncBuffer{}
		cmd := exec.Command(bin, "serve", "--addr", addr, "--tls-cert-file", good.certFile, "--tls-key-file", good.keyFile)
		cmd.Env = envWithoutSSE()
		cmd.Stdout, cmd.Stderr = log, log
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			if err := <-exited; err == nil {
				t.Errorf("serve exited cleanly, want it killed")
			}
		})
		ready := regexp.MustCompile(`msg="hub ready" url=https://` + regexp.QuoteMeta(addr) + ` demo=https://` + regexp.QuoteMeta(addr) + `/ `)
		for deadline := time.Now().Add(hubStartTimeout); !ready.MatchString(log.String()); {
			select {
			case err := <-exited:
				t.Fatalf("serve exited (%v):\n%s", err, log)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q line within %v:\n%s", ready, hubStartTimeout, log)
			}
		}
		resp := do(t, good.client(t), http.MethodGet, "https://"+addr+"/health/ready", "", nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /health/ready over HTTP/2: status %d, body %s", resp.StatusCode, body)
		}
	})
}

// envWithoutSSE is the test's environment without SSE_* variables.
func envWithoutSSE() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSE_") {
			env = append(env, kv)
		}
	}
	return env
}

// The pair's files are what `Main` reads: a Main made in Go (not from
// flags) with one of them is refused by Run, before the hub opens.
func TestRun_tlsPairInGo(t *testing.T) {
	t.Parallel()
	p := newTLSPair(t)
	m := main.NewMain()
	m.Addr, m.TLSCertFile, m.Logger = "127.0.0.1:0", p.certFile, discardLogger()
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTPS needs both") {
		if err == nil {
			m.Close()
		}
		t.Fatalf("Run with a certificate and no key: %v, want an error saying HTTPS needs both", err)
	}
}
