//go:build unix

package seglog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the name of the lock file in the directory.
const lockFile = "LOCK"

// lockDir takes the directory's lock (flock on its LOCK file) or fails at
// once, naming the directory, when another process holds it. The lock
// goes with the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by another process (its lock %s is held)", ErrLocked, dir, filepath.Join(dir, lockFile))
		}
		return nil, fmt.Errorf("seglog: lock %s: %w", dir, err)
	}
	return f, nil
}
