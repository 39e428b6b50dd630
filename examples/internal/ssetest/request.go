package ssetest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Request sends method url with body and the Content-Type ct ("" for
// none), fails the test unless the answer has status want, and returns the
// answer's body.
func Request(t testing.TB, method, url, ct, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s (Content-Type %q): status %d, want %d: %s", method, url, body, ct, resp.StatusCode, want, b)
	}
	return string(b)
}
