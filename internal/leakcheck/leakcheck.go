// Package leakcheck ends a package's tests with a goroutine leak check.
package leakcheck

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests of m, then fails the run if any goroutine is left
// behind. Idle keep-alive connections of http.DefaultClient are closed
// first: they belong to the shared client, not to a test. Call it from
// TestMain; it does not return.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
