//go:build !unix

package seglog

import (
	"os"
	"path/filepath"
)

// lockFile is the name of the lock file in the directory.
const lockFile = "LOCK"

// lockDir creates the directory's lock file; where flock is not
// available, it does not keep a second process out.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
}
