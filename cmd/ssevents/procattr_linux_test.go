package main_test

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill a hub process when the test process
// dies, so a test binary killed by -timeout leaves no hub behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
