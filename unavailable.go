package ssevents

import "github.com/ssevents/ssevents/sse"

// Unavailable returns err as an Authorizer's "cannot decide now": the
// Handler answers 503 with Retry-After and err's message (so it must be fit
// for the client), and the client should retry later with the same
// credentials. An Authorizer returns it when what it needs to decide is not
// there yet, e.g. the keys that verify tokens are still being fetched; an
// error the Authorizer did not wrap so answers 500, as any failure.
// errors.Is(Unavailable(err), sse.ErrUnavailable) is true, and errors.Is
// and errors.As see through it to err.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err: err}
}

// unavailableError is the error of Unavailable.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// Is reports whether target is sse.ErrUnavailable: the error answers 503.
func (e *unavailableError) Is(target error) bool { return target == sse.ErrUnavailable }
