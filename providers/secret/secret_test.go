package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const raw = "pit-1234-very-secret"
	s := New(raw)
	type holder struct {
		Token String
	}
	// fmt cannot call methods on unexported fields, so these reach the
	// value by reflection only.
	type hidden struct {
		name  string
		tok   String
		ptr   *String
		inner struct{ tok String }
	}
	h := hidden{name: "x", tok: s, ptr: &s}
	h.inner.tok = s
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "token", s, "holder", holder{s}, "hidden", h)
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "token", s, "holder", holder{s}, "hidden", h)
	js, err := json.Marshal(holder{s})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, out string
	}{
		{"Sprint", fmt.Sprint(s)},
		{"verbs", fmt.Sprintf("%v %+v %#v %s %q %x %X", s, s, s, s, s, s, s)},
		{"exported field", fmt.Sprintf("%v %+v %#v", holder{s}, holder{s}, holder{s})},
		{"unexported field", fmt.Sprintf("%v %+v %#v", h, h, h)},
		{"pointer to unexported holder", fmt.Sprintf("%v %+v", &h, &h)},
		{"slice of holders", fmt.Sprintf("%v %+v", []hidden{h}, []hidden{h})},
		{"map value", fmt.Sprintf("%v", map[string]hidden{"k": h})},
		{"slog JSON", buf.String()},
		{"slog text", text.String()},
		{"JSON", string(js)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.out, raw) || strings.Contains(tt.out, fmt.Sprintf("%x", raw)) {
				t.Errorf("secret leaked in %q", tt.out)
			}
		})
	}
	if s.Reveal() != raw {
		t.Errorf("Reveal() = %q, want the raw value", s.Reveal())
	}
}

func TestZeroAndEqual(t *testing.T) {
	tests := []struct {
		name     string
		a, b     String
		zero     bool
		equal    bool
		printed  string
		revealed string
	}{
		{"zero value", String{}, New(""), true, true, "", ""},
		{"same value, two copies", New("a"), New("a"), false, true, Redacted, "a"},
		{"different values", New("a"), New("b"), false, false, Redacted, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.IsZero(); got != tt.zero {
				t.Errorf("IsZero() = %v, want %v", got, tt.zero)
			}
			if got := tt.a.Equal(tt.b); got != tt.equal {
				t.Errorf("Equal() = %v, want %v", got, tt.equal)
			}
			if got := tt.a.String(); got != tt.printed {
				t.Errorf("String() = %q, want %q", got, tt.printed)
			}
			if got := tt.a.Reveal(); got != tt.revealed {
				t.Errorf("Reveal() = %q, want %q", got, tt.revealed)
			}
		})
	}
}
