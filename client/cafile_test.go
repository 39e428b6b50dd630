package client_test

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// TestCAFile: a client with CAFile trusts a server whose certificate that
// CA signed (httptest's own, self-signed), one without it does not; a
// missing or empty file, or CAFile with an HTTPClient, fails New.
func TestCAFile(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1-0"}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := client.New(client.Config{URL: srv.URL, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if id, err := c.Publish(t.Context(), "t", "e", nil); err != nil || id != "1-0" {
		t.Errorf("Publish with CAFile = %q, %v; want 1-0", id, err)
	}
	plain, _ := client.New(client.Config{URL: srv.URL, PublishRetries: -1})
	t.Cleanup(plain.CloseIdleConnections)
	if _, err := plain.Publish(t.Context(), "t", "e", nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Publish without CAFile = %v, want the certificate refused", err)
	}

	for _, tt := range []struct {
		name string
		cfg  client.Config
		want string
	}{
		{"missing file", client.Config{URL: srv.URL, CAFile: filepath.Join(dir, "nope.pem")}, "nope.pem"},
		{"no certificate", client.Config{URL: srv.URL, CAFile: empty}, "holds no PEM certificate"},
		{"with an HTTPClient", client.Config{URL: srv.URL, CAFile: caFile, HTTPClient: srv.Client()}, "CAPool"},
	} {
		if _, err := client.New(tt.cfg); !errors.Is(err, sse.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig mentioning %q", tt.name, err, tt.want)
		}
	}
}
