//go:build unix

package ssevents

import "syscall"

// openFileLimit returns the process's soft RLIMIT_NOFILE, and false if it
// cannot be read. RLIM_INFINITY, whatever its value on this system, is a
// huge number once converted.
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}
