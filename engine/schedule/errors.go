package schedule

import "errors"

// Errors returned by [Scheduler.Enqueue]. The daemon answers both with
// 429, the only status GHL retries, so the event comes back later.
var (
	// ErrOverloaded means the hint queue is full.
	ErrOverloaded = errors.New("schedule: hint queue is full")
	// ErrStopped means the scheduler is stopping or has stopped.
	ErrStopped = errors.New("schedule: scheduler is stopping")
)

// errTerminal marks an error that retrying cannot fix.
var errTerminal = errors.New("terminal")

type terminalError struct{ err error }

func (e terminalError) Error() string { return e.err.Error() }
func (e terminalError) Unwrap() []error {
	return []error{e.err, errTerminal}
}

// Terminal marks err as one that retrying cannot fix (the record was
// rejected as invalid, the hint names a kind no sync reads): the
// scheduler gives up on the hint at once instead of backing off. A
// Reconciler returns it; Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return terminalError{err}
}

// IsTerminal reports whether err, or an error it wraps, came from
// [Terminal].
func IsTerminal(err error) bool { return errors.Is(err, errTerminal) }
