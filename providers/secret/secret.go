// Package secret holds credentials (API keys, tokens, client secrets) in a
// type whose every printable form is redacted, so that a careless log line,
// error message, plan or JSON dump cannot leak one. The raw value is only
// available through [String.Reveal], which is meant to be called in exactly
// the places that put a credential on the wire.
package secret

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what every printable form of a non-empty secret shows.
const Redacted = "(sensitive)"

// String is a secret string. The zero value is an empty secret. Values
// are immutable and may be copied and shared freely; compare them with
// [String.Equal], since == compares identity.
//
// The value sits behind a pointer rather than in a string field because
// fmt cannot call the redacting methods of a String held in an unexported
// struct field: it walks such fields by reflection, and would print a
// string field as is. A pointer below the top level prints as an address.
type String struct{ p *box }

// box holds the raw value; its only field is never reached by fmt, which
// prints nested pointers as addresses.
type box struct{ v string }

// New wraps a raw credential.
func New(v string) String {
	if v == "" {
		return String{}
	}
	return String{p: &box{v: v}}
}

// Reveal returns the raw value. Call it only to authenticate a request.
func (s String) Reveal() string {
	if s.p == nil {
		return ""
	}
	return s.p.v
}

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.p == nil || s.p.v == "" }

// Equal reports whether s and o hold the same value, in constant time
// for values of equal length.
func (s String) Equal(o String) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// String implements fmt.Stringer with a redaction.
func (s String) String() string {
	if s.IsZero() {
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
