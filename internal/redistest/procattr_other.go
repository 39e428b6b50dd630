//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing outside Linux: Cleanup kills the servers.
func dieWithParent(*exec.Cmd) {}
