package redistest

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// dieWithParent makes the kernel kill the server when the test process
// dies, so a test binary killed by -timeout leaves no redis-server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits, for up to a second, until the kernel reports process
// pid stopped (state T in /proc/<pid>/stat), so that a paused server
// answers nothing from the moment Pause returns.
func waitStopped(pid int) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	for range 100 {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
