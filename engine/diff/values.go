package diff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// canon is the comparison form of a field value: two values are the same
// when their canon strings are. Null, the empty string and the empty list
// are one value, because APIs turn each into the others on a round trip.
// Set fields ignore order and duplicates; Fold fields ignore letter case.
func canon(f providers.Field, v cty.Value) string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return "null"
	}
	t := v.Type()
	if t == cty.String {
		s := v.AsString()
		if s == "" {
			return "null"
		}
		if f.Fold {
			s = strings.ToLower(s)
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	if t.IsListType() || t.IsSetType() || t.IsTupleType() {
		if v.LengthInt() == 0 {
			return "null"
		}
		if f.Set {
			seen := map[string]bool{}
			var elems []string
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				c := canon(providers.Field{Fold: f.Fold}, e)
				if c == "null" || seen[c] {
					continue
				}
				seen[c] = true
				elems = append(elems, c)
			}
			if len(elems) == 0 {
				return "null"
			}
			sort.Strings(elems)
			return "[" + strings.Join(elems, ",") + "]"
		}
	}
	if (t.IsMapType() || t.IsObjectType()) && v.LengthInt() == 0 {
		return "null"
	}
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		return "unencodable"
	}
	return string(b)
}

func equal(f providers.Field, a, b cty.Value) bool { return canon(f, a) == canon(f, b) }

// conform converts v to the field's type, so an expression that yields a
// tuple can fill a list field.
func conform(f providers.Field, v cty.Value) (cty.Value, error) {
	if v == cty.NilVal {
		return cty.NullVal(f.Type), nil
	}
	if f.Type == cty.DynamicPseudoType || f.Type == cty.NilType {
		return v, nil
	}
	if v.IsNull() {
		return cty.NullVal(f.Type), nil
	}
	return convert.Convert(v, f.Type)
}

// recordObject is the cty object an expression sees as `source` or
// `target`: every schema field (null when absent) plus id, parent_id and,
// unless the schema has its own, updated_at.
func recordObject(s providers.Schema, r providers.Record) cty.Value {
	attrs := make(map[string]cty.Value, len(s.Fields)+3)
	for _, f := range s.Fields {
		v, ok := r.Fields[f.Name]
		if !ok || v == cty.NilVal {
			v = cty.NullVal(f.Type)
		} else if cv, err := conform(f, v); err == nil {
			v = cv
		}
		attrs[f.Name] = v
	}
	attrs["id"] = cty.StringVal(r.ID)
	attrs["parent_id"] = strOrNull(r.ParentID)
	if _, own := attrs["updated_at"]; own {
		// The kind has its own updated_at field (Paperbell's); overwriting
		// it with a reformatted copy would make the object disagree with
		// the record it came from.
	} else if r.UpdatedAt.IsZero() {
		attrs["updated_at"] = cty.NullVal(cty.String)
	} else {
		attrs["updated_at"] = cty.StringVal(r.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	return cty.ObjectVal(attrs)
}

func strOrNull(s string) cty.Value {
	if s == "" {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(s)
}

// digest fingerprints a record's fields, for saved-plan staleness checks.
func digest(s providers.Schema, r providers.Record) string {
	h := sha256.New()
	for _, f := range s.Fields {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write([]byte(canon(f, r.Fields[f.Name])))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Digest is digest for other packages (apply re-reads a record and checks
// that it did not move since the plan).
func Digest(s providers.Schema, r providers.Record) string { return digest(s, r) }

// Equal reports whether two values of field f are the same for syncing
// purposes (see canon).
func Equal(f providers.Field, a, b cty.Value) bool { return equal(f, a, b) }
