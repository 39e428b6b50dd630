package main

import (
	"context"
	"errors"
	"io"
)

// runTail is a placeholder, replaced by the real command.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("tail: not implemented yet")
}
