package main

import (
	"context"
	"errors"
	"io"
)

// runToken is a placeholder, replaced by the real command.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("token: not implemented yet")
}
