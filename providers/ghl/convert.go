package ghl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/bellsync/bellsync/providers"
)

// object is a JSON object as GHL sent it; values stay raw so each field is
// converted by its schema type.
type object map[string]json.RawMessage

func (o object) str(key string) string {
	var s string
	if raw, ok := o[key]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// fieldsFromJSON builds a record's fields from o, one typed value per
// schema field, null where GHL left the field out.
func fieldsFromJSON(s providers.Schema, o object) (map[string]cty.Value, error) {
	out := make(map[string]cty.Value, len(s.Fields))
	for _, f := range s.Fields {
		var v cty.Value
		var err error
		if f.Name == "customFields" {
			v, err = customFieldsFromJSON(o[f.Name])
		} else {
			v, err = valueFromJSON(f.Type, o[f.Name])
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s.%s: %w", s.Kind, f.Name, err)
		}
		out[f.Name] = v
	}
	return out, nil
}

func isNullJSON(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func valueFromJSON(ty cty.Type, raw json.RawMessage) (cty.Value, error) {
	if isNullJSON(raw) {
		return cty.NullVal(ty), nil
	}
	switch {
	case ty == cty.String:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return cty.StringVal(s), nil
		}
		// GHL is loose with types (numbers for postal codes); keep the text.
		return cty.StringVal(string(bytes.TrimSpace(raw))), nil
	case ty == cty.Bool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return cty.NullVal(ty), err
		}
		return cty.BoolVal(b), nil
	case ty.Equals(cty.List(cty.String)):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return cty.NullVal(ty), err
		}
		if len(items) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		vals := make([]cty.Value, 0, len(items))
		for _, it := range items {
			v, err := valueFromJSON(cty.String, it)
			if err != nil {
				return cty.NullVal(ty), err
			}
			if !v.IsNull() {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		return cty.ListVal(vals), nil
	case ty == cty.DynamicPseudoType:
		it, err := ctyjson.ImpliedType(raw)
		if err != nil {
			return cty.NullVal(ty), err
		}
		return ctyjson.Unmarshal(raw, it)
	}
	return cty.NullVal(ty), fmt.Errorf("unsupported field type %s", ty.FriendlyName())
}

// customFieldsFromJSON turns GHL's [{id, value}] list into an object keyed
// by field id whose values keep their JSON types. None is an empty object.
func customFieldsFromJSON(raw json.RawMessage) (cty.Value, error) {
	if isNullJSON(raw) {
		return cty.EmptyObjectVal, nil
	}
	var items []struct {
		ID         string          `json:"id"`
		Value      json.RawMessage `json:"value"`
		FieldValue json.RawMessage `json:"fieldValue"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return cty.NilVal, fmt.Errorf("decode customFields: %w", err)
	}
	attrs := map[string]cty.Value{}
	for _, it := range items {
		if it.ID == "" {
			continue
		}
		v := it.Value
		if isNullJSON(v) {
			v = it.FieldValue
		}
		if isNullJSON(v) {
			attrs[it.ID] = cty.NullVal(cty.DynamicPseudoType)
			continue
		}
		cv, err := valueFromJSON(cty.DynamicPseudoType, v)
		if err != nil {
			return cty.NilVal, fmt.Errorf("decode custom field %s: %w", it.ID, err)
		}
		attrs[it.ID] = cv
	}
	if len(attrs) == 0 {
		return cty.EmptyObjectVal, nil
	}
	return cty.ObjectVal(attrs), nil
}

// customFieldsToJSON writes the fields of an object or map value in GHL's
// write shape. keys, when not nil, limits the output to those ids.
func customFieldsToJSON(v cty.Value, keys map[string]bool) ([]map[string]any, error) {
	var out []map[string]any
	if v.IsNull() || !v.IsKnown() {
		return out, nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, fmt.Errorf("customFields must be an object keyed by field id, not %s", v.Type().FriendlyName())
	}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		id := k.AsString()
		if keys != nil && !keys[id] {
			continue
		}
		raw, err := jsonOf(ev)
		if err != nil {
			return nil, fmt.Errorf("custom field %s: %w", id, err)
		}
		out = append(out, map[string]any{"id": id, "fieldValue": raw})
	}
	return out, nil
}

// customFieldAttrs returns the attributes of an object or map value.
func customFieldAttrs(v cty.Value) map[string]cty.Value {
	out := map[string]cty.Value{}
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		out[k.AsString()] = ev
	}
	return out
}

// jsonOf encodes a cty value as JSON, null for a null value.
func jsonOf(v cty.Value) (json.RawMessage, error) {
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	if v.IsNull() {
		return json.RawMessage("null"), nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	return b, nil
}

// stringsOf returns the strings of a list, set or tuple value.
func stringsOf(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if !ev.IsNull() && ev.IsKnown() && ev.Type() == cty.String {
			out = append(out, ev.AsString())
		}
	}
	return out
}

// tagDiff computes the tags to add and remove to get from old to new,
// comparing without case as GHL stores tags lower-cased.
func tagDiff(old, new []string) (add, remove []string) {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range list {
			m[strings.ToLower(strings.TrimSpace(s))] = true
		}
		return m
	}
	oldSet, newSet := in(old), in(new)
	seen := map[string]bool{}
	for _, t := range new {
		k := strings.ToLower(strings.TrimSpace(t))
		if k != "" && !oldSet[k] && !seen[k] {
			seen[k] = true
			add = append(add, strings.TrimSpace(t))
		}
	}
	for _, t := range old {
		k := strings.ToLower(strings.TrimSpace(t))
		if k != "" && !newSet[k] && !seen[k] {
			seen[k] = true
			remove = append(remove, strings.TrimSpace(t))
		}
	}
	return add, remove
}

// normalizeTime writes an RFC 3339 time as UTC with a Z, the form GHL
// documents for dueDate; anything else is passed through for GHL to judge.
func normalizeTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// samePhone compares phones after bringing both to E.164, since GHL
// reformats what it is sent. Numbers without a country code are read as US
// numbers, the default GHL applies to locations there.
func samePhone(sent, got string) bool {
	if sent == got {
		return true
	}
	return e164(sent) == e164(got)
}

func e164(s string) string {
	n, err := phonenumbers.Parse(s, "US")
	if err != nil {
		return s
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// echoDiffers reports whether GHL's echo of a field differs from what was
// sent beyond its known normalisation.
func echoDiffers(f providers.Field, sent, got cty.Value) bool {
	if !sent.IsKnown() {
		return false
	}
	if sent.IsNull() {
		return !got.IsNull() && !(got.Type() == cty.String && got.AsString() == "")
	}
	if got.IsNull() {
		return !(sent.Type() == cty.String && sent.AsString() == "")
	}
	switch {
	case f.Name == "phone" && sent.Type() == cty.String && got.Type() == cty.String:
		return !samePhone(sent.AsString(), got.AsString())
	case f.Name == "email" && sent.Type() == cty.String && got.Type() == cty.String:
		return !strings.EqualFold(strings.TrimSpace(sent.AsString()), got.AsString())
	case f.Set:
		a, r := tagDiff(stringsOf(got), stringsOf(sent))
		return len(a) > 0 || len(r) > 0
	case f.Name == "dueDate" && sent.Type() == cty.String && got.Type() == cty.String:
		return normalizeTime(sent.AsString()) != normalizeTime(got.AsString())
	case f.Type == cty.DynamicPseudoType:
		s, g := customFieldAttrs(sent), customFieldAttrs(got)
		for k, sv := range s {
			gv, ok := g[k]
			if !ok || !jsonEqual(sv, gv) {
				return true
			}
		}
		return false
	}
	if !sent.Type().Equals(got.Type()) {
		return !jsonEqual(sent, got)
	}
	return !sent.RawEquals(got)
}

// jsonEqual compares two values by their JSON encodings, so a list sent
// and a tuple echoed compare equal.
func jsonEqual(a, b cty.Value) bool {
	ja, err1 := jsonOf(a)
	jb, err2 := jsonOf(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// goValue converts a primitive cty value for a JSON request body.
func goValue(v cty.Value) (any, error) {
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	if v.IsNull() {
		return nil, nil
	}
	return jsonOf(v)
}
