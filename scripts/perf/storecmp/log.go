package main

import (
	"errors"

	"github.com/ssevents/ssevents/sse"
)

// Design A is broker/memory's own durable history (memory.Open with
// BrokerOptions.DataDir). Until it is on this branch, the design reports
// itself unavailable.

// logFiles are design A's files, relative to this directory, for the code
// size column.
var logFiles []string

func openLog(dir string, opts sse.BrokerOptions, mode fsyncMode) (store, error) {
	return nil, errors.New("storecmp: design A (memory.Open) is not on this branch yet")
}
