//go:build !linux

package redistest

import (
	"os/exec"
	"time"
)

// dieWithParent does nothing outside Linux: Cleanup kills the servers.
func dieWithParent(*exec.Cmd) {}

// waitStopped waits a moment for a SIGSTOP to take effect outside Linux,
// where there is no /proc to ask.
func waitStopped(int) { time.Sleep(50 * time.Millisecond) }
