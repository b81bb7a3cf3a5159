package config

import (
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// recordVars are the variables record expressions may see; which of them
// a given expression sees depends on its block (see checkScopes).
var recordVars = []string{"source", "target"}

// checkScopes reports every variable a record expression refers to that
// the engine does not provide there. HCL would say "Unknown variable"
// only when the expression is evaluated, which is per record at plan
// time; a typo such as sourc.firstName would then fail every record
// instead of the validate.
//
// The scopes are those the engine evaluates with: map, reverse_map and
// on_create see source and target; each side of a match key sees only
// its own record, because keys are computed for each side alone.
func checkScopes(s *Sync) hcl.Diagnostics {
	var diags hcl.Diagnostics
	both := recordVars
	for _, m := range s.Map {
		diags = append(diags, checkScope(m.Expr, both, "A map entry")...)
	}
	for _, m := range s.ReverseMap {
		diags = append(diags, checkScope(m.Expr, both, "A reverse_map entry")...)
	}
	for _, r := range s.OnCreate {
		for _, a := range r.Attrs {
			diags = append(diags, checkScope(a.Expr, both, "An on_create attribute")...)
		}
	}
	for _, k := range s.Match {
		diags = append(diags, checkScope(k.Source, []string{"source"}, fmt.Sprintf("The source of match key %q", k.Name))...)
		diags = append(diags, checkScope(k.Target, []string{"target"}, fmt.Sprintf("The target of match key %q", k.Name))...)
	}
	return diags
}

func checkScope(expr hcl.Expression, allowed []string, what string) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if slices.Contains(allowed, root) {
			continue
		}
		var detail string
		if slices.Contains(recordVars, root) {
			detail = fmt.Sprintf("%s is computed from %s alone, so it cannot refer to %s. "+
				"Each side's key is worked out from its own record; write the other side's in its own attribute.",
				what, allowed[0], root)
		} else {
			detail = fmt.Sprintf("There is no variable named %q. %s can refer to %s.%s",
				root, what, quoteList(allowed), DidYouMean(root, allowed))
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown variable",
			Detail:   detail,
			Subject:  tr.SourceRange().Ptr(),
		})
	}
	return diags
}

// CheckEvalContext is [EvalContext] for checking record expressions
// before any record exists, with vars holding unknown values of the
// records' types: a function that fails because an argument is not
// known yet gives an unknown result instead, so only what would fail
// for every record is reported.
func CheckEvalContext(vars map[string]cty.Value, baseDir string) *hcl.EvalContext {
	ctx := EvalContext(vars, baseDir)
	funcs := maps.Clone(ctx.Functions)
	for name, f := range funcs {
		funcs[name] = tolerant(f)
	}
	ctx.Functions = funcs
	return ctx
}

func tolerant(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			t, err := f.ReturnTypeForValues(args)
			if err != nil && !whollyKnown(args) {
				return cty.DynamicPseudoType, nil
			}
			return t, err
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil && !whollyKnown(args) {
				return cty.UnknownVal(retType), nil
			}
			return v, err
		},
	})
}

func whollyKnown(args []cty.Value) bool {
	for _, a := range args {
		if a != cty.NilVal && !a.IsWhollyKnown() {
			return false
		}
	}
	return true
}
