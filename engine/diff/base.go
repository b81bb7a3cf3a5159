package diff

import (
	"encoding/json"
	"fmt"

	"github.com/bellsync/bellsync/engine/plan"
	"github.com/zclconf/go-cty/cty"
)

// Base is the snapshot kept with a link for one side: what bellsync last
// wrote there and what that side held right after (its echo). Keeping both
// is what lets a one-way sync ignore a target that stores values in its own
// format, and a two-way sync tell an edit from an echo.
type Base struct {
	Wrote map[string]cty.Value
	Seen  map[string]cty.Value
}

type baseJSON struct {
	Wrote json.RawMessage `json:"wrote,omitempty"`
	Seen  json.RawMessage `json:"seen,omitempty"`
}

// EncodeBase serialises a base for the state store.
func EncodeBase(b Base) ([]byte, error) {
	w, err := plan.EncodeValues(b.Wrote)
	if err != nil {
		return nil, fmt.Errorf("encode base: %w", err)
	}
	s, err := plan.EncodeValues(b.Seen)
	if err != nil {
		return nil, fmt.Errorf("encode base: %w", err)
	}
	return json.Marshal(baseJSON{Wrote: w, Seen: s})
}

// DecodeBase is the inverse of EncodeBase. Empty input is an error, so
// callers can tell "no base" from an empty one.
func DecodeBase(data []byte) (Base, error) {
	if len(data) == 0 {
		return Base{}, fmt.Errorf("no base")
	}
	var bj baseJSON
	if err := json.Unmarshal(data, &bj); err != nil {
		return Base{}, fmt.Errorf("decode base: %w", err)
	}
	w, err := plan.DecodeValues(bj.Wrote)
	if err != nil {
		return Base{}, fmt.Errorf("decode base: %w", err)
	}
	s, err := plan.DecodeValues(bj.Seen)
	if err != nil {
		return Base{}, fmt.Errorf("decode base: %w", err)
	}
	return Base{Wrote: w, Seen: s}, nil
}
