package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// ErrReauthorize is matched (with errors.Is) by every error that only a
// person can fix by running `bellsync auth ghl` again: the grant was
// revoked, the refresh token was already used or has expired, the app was
// uninstalled, or nothing was ever stored. Such errors also match
// [providers.ErrAuth] and are never retryable.
var ErrReauthorize = errors.New("reauthorization required")

// ErrNoToken is returned by [FileStore.LoadToken] and [Load] when nothing
// is stored under the key.
var ErrNoToken = errors.New("no stored token")

// ReauthError is the terminal error behind [ErrReauthorize]. Its message
// is the one instruction the user needs; Cause keeps the server's answer
// for logs.
type ReauthError struct {
	// Subject is what lost access: "location X" or "company X".
	Subject string
	// NotConnected is set when no token was ever stored.
	NotConnected bool
	Cause        error
}

func (e *ReauthError) Error() string {
	if e.NotConnected {
		return fmt.Sprintf("ghl: no token stored for %s; run `bellsync auth ghl` to connect", e.Subject)
	}
	return fmt.Sprintf("ghl: access for %s was revoked or has expired; run `bellsync auth ghl` to reconnect", e.Subject)
}

// Is matches ErrReauthorize and providers.ErrAuth.
func (e *ReauthError) Is(target error) bool {
	return target == ErrReauthorize || target == providers.ErrAuth
}

func (e *ReauthError) Unwrap() error { return e.Cause }

// failKind sorts token endpoint failures by who can fix them.
type failKind int

const (
	failOther  failKind = iota // transient, rate limited or a bug
	failGrant                  // the grant is dead: reauthorize
	failClient                 // client_id/client_secret are wrong: fix config
)

// tokenError is an unsuccessful token endpoint answer.
type tokenError struct {
	kind failKind
	err  *providers.Error
}

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// errorBody covers both shapes GHL's token endpoint may answer with: the
// RFC 6749 one and its common {statusCode, message, error} one, whose
// message is a string or, for 422, a list (NOTES §3).
type errorBody struct {
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
	Message     json.RawMessage `json:"message"`
	TraceID     string          `json:"traceId"`
}

func (b errorBody) message() string {
	var s string
	if json.Unmarshal(b.Message, &s) == nil && s != "" {
		return s
	}
	var list []string
	if json.Unmarshal(b.Message, &list) == nil && len(list) > 0 {
		return strings.Join(list, "; ")
	}
	return b.Description
}

// classify turns a non-2xx token endpoint answer into a tokenError. The
// values we sent are scrubbed from the server's message, in case it echoes
// them ("refresh token abc… is invalid").
func classify(cfg Config, op string, res *http.Response, body []byte, sent []secret.String) *tokenError {
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	msg := eb.message()
	for _, s := range sent {
		if !s.IsZero() {
			msg = strings.ReplaceAll(msg, s.Reveal(), secret.Redacted)
		}
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	pe := &providers.Error{Provider: "ghl", Op: op, Status: res.StatusCode, Message: msg, TraceID: eb.TraceID}
	low := strings.ToLower(eb.Error + " " + msg)
	switch {
	case eb.Error == "invalid_client" || strings.Contains(low, "client_secret") ||
		strings.Contains(low, "client credentials") || strings.Contains(low, "invalid client"):
		// Never name the secret, only the id, so the user knows which app
		// registration to compare against.
		pe.Category = providers.ErrAuth
		pe.Message = fmt.Sprintf("client authentication failed for client_id %q; check client_secret (server said: %s)", cfg.ClientID, msg)
		return &tokenError{kind: failClient, err: pe}
	case eb.Error == "invalid_grant" || res.StatusCode == http.StatusBadRequest ||
		res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		pe.Category = providers.ErrAuth
		return &tokenError{kind: failGrant, err: pe}
	case res.StatusCode == http.StatusTooManyRequests:
		pe.Category = providers.ErrRateLimited
		pe.RetryAfter = httpx.RetryAfter(res.Header, cfg.now())
		if pe.RetryAfter <= 0 {
			pe.RetryAfter = time.Minute
		}
	case res.StatusCode >= 500:
		pe.Category = providers.ErrTransient
	default:
		pe.Category = providers.ErrTerminal
	}
	return &tokenError{kind: failOther, err: pe}
}

func kindOf(err error) failKind {
	var te *tokenError
	if errors.As(err, &te) {
		return te.kind
	}
	return failOther
}
