//go:build !linux

package main_test

import "os/exec"

// dieWithParent does nothing outside Linux: t.Cleanup kills the hub
// processes, but a test binary killed by -timeout may leave them behind.
func dieWithParent(*exec.Cmd) {}
