package main

import (
	"context"
	"errors"
	"io"
)

// runServe is a placeholder, replaced by the real command.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("serve: not implemented yet")
}
