package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	main "github.com/ssevents/ssevents/cmd/ssevents"
	"github.com/ssevents/ssevents/internal/bench"
)

// privateCA is a CA of the test's own and a server certificate it signed
// for localhost and 127.0.0.1, as PEM files: caFile for --cacert, certFile
// and keyFile for the hub.
type privateCA struct {
	caFile, certFile, keyFile string
}

// newPrivateCA makes a CA (ECDSA P-256) and a server pair it signed.
func newPrivateCA(t *testing.T) privateCA {
	t.Helper()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ssevents test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER := must(x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey))
	ca := must(x509.ParseCertificate(caDER))
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	der := must(x509.CreateCertificate(rand.Reader, localhostCert(2), ca, &key.PublicKey, caKey))
	keyDER := must(x509.MarshalPKCS8PrivateKey(key))
	return privateCA{
		caFile:   writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		certFile: writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyFile:  writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
}

// TestCACert: against a hub whose certificate a private CA signed,
// publish, tail, presence, bench and bench --check fail without --cacert
// (the CA is not the system's) and work with it.
func TestCACert(t *testing.T) {
	t.Parallel()
	ca := newPrivateCA(t)
	m := startHub(t, "--tls-cert-file", ca.certFile, "--tls-key-file", ca.keyFile, "--presence", "desk:*")
	runCmd := func(args ...string) (string, string, error) {
		var stdout, stderr syncBuffer
		err := main.RunCommand(t.Context(), args, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}

	// Without the CA: refused, saying why.
	if _, _, err := runCmd("publish", "--url", m.URL(), "--topic", "desk:1"); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("publish without --cacert: %v, want the certificate refused", err)
	}

	// tail --cacert receives what publish --cacert sent.
	tailOut := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- main.RunCommand(t.Context(), []string{"tail", "--url", m.URL(), "--cacert", ca.caFile, "--topic", "desk:1", "--count", "1"}, tailOut, &syncBuffer{})
	}()
	waitConnections(t, m, 1)
	out, stderr, err := runCmd("publish", "--url", m.URL(), "--cacert", ca.caFile, "--topic", "desk:1", "--data", `{"n":1}`)
	if err != nil {
		t.Fatalf("publish --cacert: %v (stderr %q)", err, stderr)
	}
	id := strings.TrimSpace(out)
	select {
	case err := <-done:
		if err != nil || !strings.Contains(tailOut.String(), id+"  {\"n\":1}") {
			t.Errorf("tail --cacert: %v, output %q, want the event with id %s", err, tailOut.String(), id)
		}
	case <-time.After(testTimeout):
		t.Fatalf("tail --cacert did not get the event: %q", tailOut.String())
	}

	if out, stderr, err := runCmd("presence", "--url", m.URL(), "--cacert", ca.caFile, "--topic", "desk:1"); err != nil || !strings.HasPrefix(out, "desk:1: ") {
		t.Errorf("presence --cacert: %v, output %q, stderr %q", err, out, stderr)
	}

	out, stderr, err = runCmd("bench", "--url", m.URL(), "--cacert", ca.caFile, "--conns", "4", "--rate", "20", "--duration", "500ms", "--json")
	if err != nil {
		t.Fatalf("bench --cacert: %v\nstderr %s", err, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(lastLine(out)), &rep); err != nil || rep.Connected != 4 || rep.Published == 0 || rep.Received != rep.Expected {
		t.Errorf("bench --cacert: %v; connected %d, published %d, received %d of %d", err, rep.Connected, rep.Published, rep.Received, rep.Expected)
	}
	if _, _, err := runCmd("bench", "--url", m.URL(), "--conns", "2", "--duration", "200ms", "--connect-timeout", "2s"); err == nil {
		t.Errorf("bench without --cacert succeeded against a private CA")
	}
	out, stderr, err = runCmd("bench", "--check", "--url", m.URL(), "--cacert", ca.caFile, "--conns", "2", "--topics", "1", "--rate", "10", "--duration", "1s", "--drain", "3s")
	if err != nil || !strings.Contains(out, "lost        0") {
		t.Errorf("bench --check --cacert: %v\nstdout %s\nstderr %s", err, out, stderr)
	}
}

// TestPublishDataFromFileAndStdin runs the built command: publish reads
// --data - from stdin and --data @FILE from a file, as curl -d does, and
// SSE_CA_FILE stands in for --cacert.
func TestPublishDataFromFileAndStdin(t *testing.T) {
	t.Parallel()
	bin := buildHub(t)
	m := startHub(t)
	s := subscribe(t, eventsURL(m, "t"), nil)
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, []byte("{\n  \"from\": \"file\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	publish := func(url, data, stdin string, env ...string) (string, string, error) {
		cmd := exec.CommandContext(t.Context(), bin, "publish", "--url", url, "--topic", "t", "--data", data)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}
	for _, tt := range []struct{ data, stdin, want string }{
		{"-", "{\"from\": \"stdin\"}\n", `{"from":"stdin"}`},
		{"@" + dataFile, "", `{"from":"file"}`},
	} {
		id, stderr, err := publish(m.URL(), tt.data, tt.stdin)
		if err != nil {
			t.Fatalf("publish --data %s: %v\nstderr %s", tt.data, err, stderr)
		}
		if ev := s.next(); ev.ID != id || ev.Data != tt.want {
			t.Errorf("publish --data %s delivered %+v, want id %s, data %s", tt.data, ev, id, tt.want)
		}
	}
	if _, stderr, err := publish(m.URL(), "-", "not json"); exitStatus(err) != 2 || stderr != "ssevents publish: --data - (stdin) is not valid JSON: \"not json\"\n" {
		t.Errorf("publish --data - with bad JSON: exit %d, stderr %q; want 2 and one line", exitStatus(err), stderr)
	}

	ca := newPrivateCA(t)
	tlsHub := startHub(t, "--tls-cert-file", ca.certFile, "--tls-key-file", ca.keyFile)
	if _, stderr, err := publish(tlsHub.URL(), "{}", "", "SSE_CA_FILE="); exitStatus(err) != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") {
		t.Errorf("publish without the CA: exit %d, stderr %q; want 1 and the certificate refused", exitStatus(err), stderr)
	}
	if id, stderr, err := publish(tlsHub.URL(), "{}", "", "SSE_CA_FILE="+ca.caFile); err != nil || id == "" {
		t.Errorf("publish with SSE_CA_FILE: %v, id %q, stderr %q", err, id, stderr)
	}
}

// exitStatus is the exit status of a command's error: 0 for nil, -1 for
// an error that is not an exit.
func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// lastLine is the last line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
