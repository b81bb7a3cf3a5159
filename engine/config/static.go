package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// staticValue evaluates an attribute that is settled at load time. Such
// attributes may call functions (env, file) but cannot see records; a
// reference to one gets its own diagnostic because HCL's "Unknown
// variable" would not say why.
func staticValue(attr *hcl.Attribute, evalCtx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if vars := attr.Expr.Variables(); len(vars) > 0 {
		return cty.DynamicVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Record values not allowed here",
			Detail: fmt.Sprintf("The %s attribute is read when the config loads, before any record exists, so it cannot refer to %q. "+
				"Use a literal value, or a function such as env().", attr.Name, vars[0].RootName()),
			Subject: vars[0].SourceRange().Ptr(),
		}}
	}
	v, diags := attr.Expr.Value(evalCtx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	if v.IsNull() {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing value",
			Detail: fmt.Sprintf("The %s attribute must have a value, but this expression is null. "+
				"Set a value or remove the attribute.", attr.Name),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	return v, diags
}

func staticString(attr *hcl.Attribute, evalCtx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := staticValue(attr, evalCtx)
	if diags.HasErrors() {
		return "", diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail: fmt.Sprintf("The %s attribute must be a string, but this is a %s. Change it to a quoted string.",
				attr.Name, v.Type().FriendlyName()),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	return s.AsString(), diags
}

// staticEnum reads a string that must be one of allowed; what names the
// setting in the diagnostic ("direction").
func staticEnum(attr *hcl.Attribute, evalCtx *hcl.EvalContext, what string, allowed []string) (string, hcl.Diagnostics) {
	v, diags := staticString(attr, evalCtx)
	if diags.HasErrors() {
		return "", diags
	}
	if !slices.Contains(allowed, v) {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail: fmt.Sprintf("%q is not a %s.%s Use one of %s.",
				v, what, DidYouMean(v, allowed), quoteList(allowed)),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	return v, diags
}

// staticStringList reads a list of names and where each was written: the
// element's own range in a literal list, the whole expression in a
// computed one (concat(...), env(...)). Repeats are dropped, keeping the
// first.
func staticStringList(attr *hcl.Attribute, evalCtx *hcl.EvalContext) ([]string, map[string]hcl.Range, hcl.Diagnostics) {
	v, diags := staticValue(attr, evalCtx)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	list, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || list.IsNull() {
		return nil, nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail: fmt.Sprintf("The %s attribute must be a list of field names, such as [\"time_zone\"]. "+
				"Change it to a list of quoted strings.", attr.Name),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	elems := elementRanges(attr.Expr, list.LengthInt())
	var out []string
	ranges := map[string]hcl.Range{}
	i := 0
	for it := list.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		rng := attr.Expr.Range()
		if elems != nil {
			rng = elems[i]
		}
		if e.IsNull() || e.AsString() == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty field name",
				Detail:   fmt.Sprintf("Every element of %s must name a field. Remove the empty element.", attr.Name),
				Subject:  rng.Ptr(),
			})
			continue
		}
		if slices.Contains(out, e.AsString()) {
			continue
		}
		out = append(out, e.AsString())
		ranges[e.AsString()] = rng
	}
	return out, ranges, diags
}

// elementRanges returns the range of each element of a literal list of n
// elements, or nil when the list is computed and its elements were never
// written out.
func elementRanges(expr hcl.Expression, n int) []hcl.Range {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() || len(exprs) != n {
		return nil
	}
	out := make([]hcl.Range, n)
	for i, e := range exprs {
		out[i] = e.Range()
	}
	return out
}

// DidYouMean returns a " Did you mean ...?" sentence naming the closest
// candidate, or "" when none is close enough to be a likely typo. It is
// exported so the engine's schema checks suggest names the same way.
func DidYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func quoteList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	switch len(quoted) {
	case 1:
		return quoted[0]
	case 2:
		return quoted[0] + " or " + quoted[1]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
