//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// The signals Pause and Continue send.
var sigStop, sigCont os.Signal = syscall.SIGSTOP, syscall.SIGCONT
