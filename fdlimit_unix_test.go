//go:build unix

package ssevents_test

import (
	"syscall"
	"testing"

	"github.com/ssevents/ssevents"
)

// A Config left at its defaults serves as many streams as this process's
// open-file limit allows, less the headroom.
func TestConfig_defaultMaxConnectionsFollowsTheFileLimit(t *testing.T) {
	t.Parallel()
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	want := ssevents.MaxConnectionsForFileLimit(uint64(r.Cur), true)
	if want == ssevents.DefaultMaxConnections {
		t.Fatalf("limit %d gives the fallback %d: the test could not tell them apart", r.Cur, want)
	}
	if got := ssevents.ProcessMaxConnections(); got != want {
		t.Errorf("ProcessMaxConnections() = %d at a limit of %d, want %d", got, r.Cur, want)
	}
	app, err := ssevents.New(ssevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	c := app.Config()
	if c.MaxConnections != want || c.MaxPendingAuth != max(ssevents.MinMaxPendingAuth, want/10) {
		t.Errorf("at a limit of %d: MaxConnections %d, MaxPendingAuth %d, want %d, %d",
			r.Cur, c.MaxConnections, c.MaxPendingAuth, want, max(ssevents.MinMaxPendingAuth, want/10))
	}
}
