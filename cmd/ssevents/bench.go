package main

import (
	"context"
	"errors"
	"io"
)

// runBench is a placeholder, replaced by the real command.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("bench: not implemented yet")
}
