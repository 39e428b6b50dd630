package hub_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssevents/ssevents"
	clientjs "github.com/ssevents/ssevents/clients/js"
	"github.com/ssevents/ssevents/hub"
)

// TestClientJS serves /ssevents.js: the committed module byte for byte,
// as JavaScript, cacheable, revalidated by ETag, with or without the demo.
func TestClientJS(t *testing.T) {
	t.Parallel()
	for _, disableDemo := range []bool{false, true} {
		h, err := hub.New(hub.Config{Config: ssevents.Config{Logger: slog.New(slog.DiscardHandler)}, DisableDemo: disableDemo})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ssevents.js", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK || !bytes.Equal(body, clientjs.Module) || !bytes.Contains(body, []byte("export function subscribe(")) {
			t.Fatalf("demo off %v: status %d, %d bytes, want 200 and the module (%d bytes)", disableDemo, rec.Code, len(body), len(clientjs.Module))
		}
		hd := rec.Header()
		if hd.Get("Content-Type") != "text/javascript; charset=utf-8" || hd.Get("Cache-Control") != "public, max-age=300" ||
			hd.Get("ETag") == "" || hd.Get("Access-Control-Allow-Origin") != "*" || hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers %v", hd)
		}
		req := httptest.NewRequest(http.MethodGet, "/ssevents.js", nil)
		req.Header.Set("If-None-Match", hd.Get("ETag"))
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("revalidation: status %d with %d bytes, want 304 and no body", rec.Code, rec.Body.Len())
		}
	}
	if err := (hub.Config{Config: ssevents.Config{Path: "/ssevents.js"}}).Validate(); err == nil {
		t.Error("Path /ssevents.js accepted: it would hide the client")
	}
}
