// Package secret holds credentials (API keys, tokens, client secrets) in a
// type whose every printable form is redacted, so that a careless log line,
// error message, plan or JSON dump cannot leak one. The raw value is only
// available through [String.Reveal], which is meant to be called in exactly
// the places that put a credential on the wire.
package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what every printable form of a non-empty secret shows.
const Redacted = "(sensitive)"

// String is a secret string. The zero value is an empty secret.
type String struct{ v string }

// New wraps a raw credential.
func New(v string) String { return String{v: v} }

// Reveal returns the raw value. Call it only to authenticate a request.
func (s String) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.v == "" }

// String implements fmt.Stringer with a redaction.
func (s String) String() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s String) GoString() string { return "secret.String(" + s.String() + ")" }

// Format handles every fmt verb, including %x and %q, with the redaction.
func (s String) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(s.String()))
}

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the redaction, never the value.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes the redaction, never the value.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
