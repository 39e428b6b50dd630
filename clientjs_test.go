package ssevents_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/ssevents/ssevents"
	clientjs "github.com/ssevents/ssevents/clients/js"
	"github.com/ssevents/ssevents/sse"
)

// The library's App serves the browser client too, so a page of an
// application without the hub imports it from /ssevents.js; the app's
// own routes are refused as the SSE path.
func TestApp_servesClientJS(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{})
	resp := get(t, srv.URL+ssevents.ClientJSPath, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != clientjs.ContentType || !bytes.Equal(body, clientjs.Module) {
		t.Fatalf("GET /ssevents.js: %d %q, %d bytes; want the module", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	for _, p := range []string{"/presence", "/position", "/ssevents.js", "/health", "/metrics/prometheus"} {
		if err := (ssevents.Config{Path: p}).Validate(); !errors.Is(err, sse.ErrInvalidConfig) {
			t.Errorf("Config{Path: %q}.Validate() = %v, want ErrInvalidConfig", p, err)
		}
	}
}
