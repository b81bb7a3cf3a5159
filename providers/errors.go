package providers

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Category sentinels. Every error a provider returns for an API failure is
// an *Error whose Is method matches exactly one of these, so the engine can
// branch with errors.Is and never parses HTTP.
var (
	ErrNotFound    = errors.New("not found")
	ErrDuplicate   = errors.New("duplicate")
	ErrValidation  = errors.New("validation failed")
	ErrAuth        = errors.New("not authorized")
	ErrRateLimited = errors.New("rate limited")
	ErrTransient   = errors.New("transient failure")
	ErrTerminal    = errors.New("terminal failure")
)

// Error is an API failure decoded by a provider.
type Error struct {
	// Category is one of the sentinels above.
	Category error
	Provider string
	// Op names the operation ("create contact").
	Op     string
	Status int
	// Message is the API's own message, trimmed.
	Message string
	// ExistingID is the id of the record a duplicate collided with.
	ExistingID string
	// Fields names the fields a validation error is about.
	Fields []string
	// Scope or location an auth error is about, when the API says.
	Scope string
	// RetryAfter is how long the API asked us to wait.
	RetryAfter time.Duration
	// MaybeApplied is set when a write failed in a way that may still have
	// changed the remote side (a dropped connection, a 5xx, and per GHL's
	// own issue list, some 4xx on create). The engine must look the record
	// up before trying again.
	MaybeApplied bool
	// TraceID is the API's request id, for support.
	TraceID string
	// Hint tells the user what to do about it, when the provider knows.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if e.Category != nil {
		b.WriteString(": ")
		b.WriteString(e.Category.Error())
	}
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " (fields: %s)", strings.Join(e.Fields, ", "))
	}
	if e.ExistingID != "" {
		fmt.Fprintf(&b, " (existing id %s)", e.ExistingID)
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is matches the error's category sentinel.
func (e *Error) Is(target error) bool { return target == e.Category }

func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

// Retryable reports whether trying the same call again later may succeed.
func Retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrRateLimited)
}

// MaybeApplied reports whether a failed write may have taken effect.
func MaybeApplied(err error) bool {
	pe, ok := AsError(err)
	return ok && pe.MaybeApplied
}
