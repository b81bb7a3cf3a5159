package webhook

import (
	"errors"
	"net/http"
)

// Sentinels for the ways a delivery can be rejected. Every rejection
// from [Verifier.Verify] is an *[Error] that matches exactly one of them.
var (
	ErrUnsigned     = errors.New("unsigned delivery")
	ErrBadSignature = errors.New("bad signature")
	ErrStale        = errors.New("stale delivery")
	ErrReplayed     = errors.New("replayed delivery")
	ErrMalformed    = errors.New("malformed payload")
)

// Error is a rejected delivery.
type Error struct {
	// Kind is one of the sentinels above.
	Kind error
	// Detail says what exactly was wrong, for logs. It never contains
	// payload contents beyond ids and timestamps.
	Detail string
	// Err is the underlying cause, if any (a JSON or base64 error).
	Err error
}

func (e *Error) Error() string {
	s := "ghl webhook: " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the error's Kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus suggests the status to answer GHL with; see the package
// documentation for the mapping.
func (e *Error) HTTPStatus() int {
	switch e.Kind {
	case ErrUnsigned, ErrBadSignature, ErrStale:
		return http.StatusUnauthorized
	case ErrReplayed:
		return http.StatusConflict
	case ErrMalformed:
		return http.StatusBadRequest
	}
	return http.StatusTooManyRequests
}

// HTTPStatus suggests the status to answer GHL with after Verify
// returned err: 200 for nil, the *[Error] mapping for rejections, and
// 429 for anything else, since 429 is the only status GHL retries and
// such errors are ours, not the sender's.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.HTTPStatus()
	}
	return http.StatusTooManyRequests
}

func reject(kind error, detail string, cause error) *Error {
	return &Error{Kind: kind, Detail: detail, Err: cause}
}
