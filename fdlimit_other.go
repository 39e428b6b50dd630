//go:build !unix

package ssevents

// openFileLimit reports that the open-file limit cannot be read: this
// system has no RLIMIT_NOFILE.
func openFileLimit() (uint64, bool) { return 0, false }
