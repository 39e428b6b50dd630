package main

import (
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/sse"
)

// Design A is broker/memory's own durable history: memory.Open with
// BrokerOptions.DataDir, an append-only segmented log (internal/seglog)
// next to the in-memory history.

// logFiles are design A's files, relative to this directory, for the code
// size column: the files it added (it also added lines to broker/memory's
// existing files, counted in the README, not here).
var logFiles = []string{
	"../../../broker/memory/durable.go",
	"../../../broker/memory/compact.go",
	"../../../internal/seglog/dataset.go",
	"../../../internal/seglog/doc.go",
	"../../../internal/seglog/lock_unix.go",
	"../../../internal/seglog/log.go",
	"../../../internal/seglog/open.go",
	"../../../internal/seglog/record.go",
}

func openLog(dir string, opts sse.BrokerOptions, mode fsyncMode) (store, error) {
	opts.DataDir = dir
	opts.Fsync = sse.FsyncAlways
	if mode == fsyncOff {
		opts.Fsync = sse.FsyncOff
	}
	b, err := memory.Open(opts)
	if err != nil {
		return nil, err
	}
	return brokerStore{b}, nil
}
