package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Values env() and file() return are usually secrets (API tokens,
// webhook secrets), and HCL puts the arguments of a failed function call
// in its message: tonumber(env("GHL_TOKEN")) would print the token. So
// every such value is remembered, for the life of the process, and taken
// out of function errors (which covers provider blocks, decoded outside
// this package) and of every diagnostic Parse returns; callers that build
// diagnostics of their own from config values pass them through [Redact].
//
// cty marks would follow derived values further, but the providers and
// the engine call AsString on what they evaluate, which panics on a
// marked value.

// minSensitiveLen is the shortest value that is redacted. Shorter ones
// ("US", "100") are settings rather than secrets, and replacing them
// everywhere would garble unrelated words of a message.
const minSensitiveLen = 4

var sensitive = &sensitiveSet{labels: map[string]string{}}

type sensitiveSet struct {
	// mu guards labels and values.
	mu sync.RWMutex
	// labels names, by value, where each came from: env("NAME").
	labels map[string]string
	// values are the keys of labels, longest first, so that a value
	// inside another is not replaced first, leaving the rest showing.
	values []string
}

func (s *sensitiveSet) add(value, label string) {
	if len(strings.TrimSpace(value)) < minSensitiveLen {
		return
	}
	s.mu.RLock()
	_, known := s.labels[value]
	s.mu.RUnlock()
	if known {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.labels[value]; known {
		return
	}
	s.labels[value] = label
	s.values = append(s.values, value)
	slices.SortStableFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

// redact replaces every remembered value in text, quoted forms first so
// that `"TOKEN"` reads as the placeholder rather than a quoted one.
func (s *sensitiveSet) redact(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if !mayContain(text, v) {
			continue
		}
		placeholder := "(sensitive value from " + s.labels[v] + ")"
		quoted := strconv.Quote(v)
		text = strings.ReplaceAll(text, quoted, placeholder)
		text = strings.ReplaceAll(text, quoted[1:len(quoted)-1], placeholder)
		text = strings.ReplaceAll(text, v, placeholder)
	}
	return text
}

// mayContain is a cheap test before the replacements: the value, or its
// escaped form, somewhere in text.
func mayContain(text, v string) bool {
	if strings.Contains(text, v) {
		return true
	}
	q := strconv.Quote(v)
	return strings.Contains(text, q[1:len(q)-1])
}

// source returns the label of a remembered value that str is a part of,
// or contains, but is not: a function argument derived from a secret,
// such as substr(env("GHL_TOKEN"), 0, 8). A value passed whole needs no
// such care, because redact finds it.
func (s *sensitiveSet) source(str string) (string, bool) {
	if len(strings.TrimSpace(str)) < minSensitiveLen {
		return "", false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, whole := s.labels[str]; whole {
		return "", false
	}
	for _, v := range s.values {
		if strings.Contains(v, str) || strings.Contains(str, v) {
			return s.labels[v], true
		}
	}
	return "", false
}

// derivedSource looks through the known strings of args (deeply) for one
// that comes from a remembered value.
func (s *sensitiveSet) derivedSource(args []cty.Value) (string, bool) {
	var label string
	var found bool
	for _, a := range args {
		if found {
			break
		}
		if a == cty.NilVal {
			continue
		}
		a, _ = a.UnmarkDeep()
		_ = cty.Walk(a, func(_ cty.Path, v cty.Value) (bool, error) {
			if found || !v.IsKnown() || v.IsNull() {
				return !found, nil
			}
			if v.Type() == cty.String {
				label, found = s.source(v.AsString())
			}
			return !found, nil
		})
	}
	return label, found
}

// Redact takes every value env() or file() has returned out of the
// summaries and details of diags, in place, and returns diags.
func Redact(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		d.Summary = sensitive.redact(d.Summary)
		d.Detail = sensitive.redact(d.Detail)
	}
	return diags
}

// guarded wraps a function so that its errors never show a value env()
// or file() returned: the value is replaced with a placeholder, and when
// an argument is only part of such a value (or contains one) the whole
// message is, because a fragment of a token is still a leak.
func guarded(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			t, err := f.ReturnTypeForValues(args)
			return t, guardErr(err, args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			return v, guardErr(err, args)
		},
	})
}

func guardErr(err error, args []cty.Value) error {
	if err == nil {
		return nil
	}
	msg := sensitive.redact(err.Error())
	if label, ok := sensitive.derivedSource(args); ok {
		msg = fmt.Sprintf("the call failed on a value derived from %s, which is not shown because it may be secret", label)
	}
	if msg == err.Error() {
		return err
	}
	var argErr function.ArgError
	if errors.As(err, &argErr) {
		return function.NewArgError(argErr.Index, errors.New(msg))
	}
	return errors.New(msg)
}
