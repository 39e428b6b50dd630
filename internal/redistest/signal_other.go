//go:build !unix

package redistest

import "os"

// The signals Pause and Continue send: none outside Unix, where sending
// nil fails, and so does Pause.
var sigStop, sigCont os.Signal
