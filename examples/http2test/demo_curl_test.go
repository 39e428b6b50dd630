package http2test

import (
	"crypto/tls"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/hub"
)

// The demo page served over HTTPS gives a curl line that trusts the CA in
// $SSE_CA_FILE, and that line, run as it is with the hub's certificate in
// SSE_CA_FILE, publishes; over plain HTTP the line has no --cacert.
func TestDemoPage_curlOverHTTPS(t *testing.T) {
	cert, spki := selfSigned(t)
	h, err := hub.New(hub.Config{Config: ssevents.Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { h.Close() })
	b := browsertest.NewWith(t, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	p := b.NewPage(t, srv.URL+"/")
	p.WaitFor("the curl line", `document.getElementById('curl').textContent !== ''`, waitTimeout)
	curl := browsertest.Eval[string](p, `document.getElementById('curl').textContent`)
	if !strings.Contains(curl, `${SSE_CA_FILE:+--cacert "$SSE_CA_FILE"}`) {
		t.Fatalf("curl line over HTTPS %q lacks the --cacert of $SSE_CA_FILE", curl)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "sh", "-c", curl+" --silent --show-error --fail")
	cmd.Env = append(os.Environ(), "SSE_CA_FILE="+ca)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"id"`) {
		t.Fatalf("%s with SSE_CA_FILE: %v: %s", curl, err, out)
	}

	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	p = b.NewPage(t, plain.URL+"/")
	p.WaitFor("the curl line", `document.getElementById('curl').textContent !== ''`, waitTimeout)
	if curl := browsertest.Eval[string](p, `document.getElementById('curl').textContent`); strings.Contains(curl, "cacert") {
		t.Errorf("curl line over HTTP %q has a --cacert", curl)
	}
}
