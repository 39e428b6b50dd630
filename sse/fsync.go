package sse

import (
	"fmt"
	"time"
)

// FsyncMode says when a broker that keeps its history on disk
// (BrokerOptions.DataDir) makes its writes durable.
type FsyncMode string

// The fsync modes.
const (
	// FsyncAlways answers a publish only once its record is on the disk
	// (fsync): after a crash of the process or the machine, every
	// acknowledged publish is in the history. Concurrent publishes share
	// one fsync (group commit).
	FsyncAlways FsyncMode = "always"
	// FsyncInterval writes every record to the operating system before
	// the publish is answered and syncs the files every FsyncInterval: a
	// crash of the process loses nothing acknowledged, a crash of the
	// machine (power, kernel) loses at most the last interval.
	FsyncInterval FsyncMode = "interval"
	// FsyncOff never syncs but when a file is complete and at Close: a
	// crash of the process loses nothing acknowledged, a crash of the
	// machine loses what the operating system had not written yet.
	FsyncOff FsyncMode = "off"
)

// DefaultFsyncInterval is how often FsyncInterval syncs.
const DefaultFsyncInterval = 200 * time.Millisecond

// CheckFsyncMode returns an error unless s names an FsyncMode.
func CheckFsyncMode(s string) error {
	switch FsyncMode(s) {
	case FsyncAlways, FsyncInterval, FsyncOff:
		return nil
	}
	return fmt.Errorf("%w: fsync mode %q: want always, interval or off", ErrInvalidConfig, s)
}
