package config

import (
	"errors"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// TestCheckEvalContextTolerant: when validate evaluates an expression
// with unknown records, a function that cannot work on an unknown
// argument gives an unknown result rather than an error, since the same
// call may well succeed on every real record; with known arguments its
// error stands, because then it fails on every record.
func TestCheckEvalContextTolerant(t *testing.T) {
	strict := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String, AllowUnknown: true}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if !args[0].IsKnown() {
				return cty.NilVal, errors.New("cannot work on an unknown value")
			}
			if args[0].AsString() == "bad" {
				return cty.NilVal, errors.New("bad input")
			}
			return args[0], nil
		},
	})
	vars := map[string]cty.Value{"source": cty.ObjectVal(map[string]cty.Value{"email": cty.UnknownVal(cty.String)})}
	eval := func(f function.Function, src string) (cty.Value, hcl.Diagnostics) {
		t.Helper()
		ctx := CheckEvalContext(vars, "")
		ctx.Functions["strict"] = f
		expr, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return expr.Value(ctx)
	}
	if _, diags := eval(strict, `strict(source.email)`); !diags.HasErrors() {
		t.Fatal("unwrapped, the test function should fail on the unknown value")
	}
	for _, tc := range []struct {
		expr    string
		want    cty.Value
		wantErr bool
	}{
		{expr: `strict(source.email)`, want: cty.UnknownVal(cty.String)},
		{expr: `upper(strict(source.email))`, want: cty.UnknownVal(cty.String)},
		{expr: `strict("bad")`, wantErr: true},
		{expr: `strict("good")`, want: cty.StringVal("good")},
		// The normalisers and the usual helpers are wrapped too.
		{expr: `normalize_email(source.email)`, want: cty.UnknownVal(cty.String)},
		{expr: `normalize_email("jane@@example.com")`, wantErr: true},
		{expr: `e164(source.email, "US")`, want: cty.UnknownVal(cty.String)},
	} {
		v, diags := eval(tolerant(strict), tc.expr)
		if tc.wantErr {
			if !diags.HasErrors() {
				t.Errorf("%s: got %#v, want an error", tc.expr, v)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%s: %s", tc.expr, diags.Error())
			continue
		}
		if v.IsKnown() != tc.want.IsKnown() || v.IsKnown() && !v.RawEquals(tc.want) || !v.Type().Equals(tc.want.Type()) {
			t.Errorf("%s = %#v, want %#v", tc.expr, v, tc.want)
		}
	}
}
