package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// EvalContext returns the context expressions in sync.hcl are evaluated
// with: the functions of [Functions] and the given variables (typically
// "source" and "target" records). A nil vars map gives the context used
// for static attributes, where any reference to a record is an error.
//
// Each call builds a fresh context, so callers may add variables to the
// returned value without affecting others.
func EvalContext(vars map[string]cty.Value, baseDir string) *hcl.EvalContext {
	variables := make(map[string]cty.Value, len(vars))
	for k, v := range vars {
		variables[k] = v
	}
	return &hcl.EvalContext{
		Variables: variables,
		Functions: Functions(baseDir),
	}
}

// Functions returns every function sync.hcl may call. file() reads paths
// relative to baseDir.
//
// The string functions that record fields commonly flow into (lower, upper,
// trimspace, title, chomp, trim, trimprefix, trimsuffix, replace,
// regex_replace, substr, nfc) return null when their first argument is null,
// because a field the API left out is a typed null and a map entry such as
// `email = lower(source.email)` should then yield "no value" rather than
// fail the record. join skips null elements, concat skips null lists, and
// compact drops nulls as well as empty strings.
func Functions(baseDir string) map[string]function.Function {
	funcs := maps.Clone(fixedFunctions())
	funcs["file"] = guarded(makeFileFunc(baseDir))
	return funcs
}

// fixedFunctions are the functions that do not depend on the config's
// directory. They are built once because the engine makes an evaluation
// context per record.
var fixedFunctions = sync.OnceValue(func() map[string]function.Function {
	funcs := map[string]function.Function{
		// Strings.
		"lower":         nullPassing(stdlib.LowerFunc),
		"upper":         nullPassing(stdlib.UpperFunc),
		"trimspace":     nullPassing(stdlib.TrimSpaceFunc),
		"trim":          nullPassing(stdlib.TrimFunc),
		"trimprefix":    nullPassing(stdlib.TrimPrefixFunc),
		"trimsuffix":    nullPassing(stdlib.TrimSuffixFunc),
		"title":         nullPassing(stdlib.TitleFunc),
		"chomp":         nullPassing(stdlib.ChompFunc),
		"replace":       nullPassing(stdlib.ReplaceFunc),
		"regex_replace": nullPassing(stdlib.RegexReplaceFunc),
		"substr":        nullPassing(stdlib.SubstrFunc),
		"join":          joinFunc,
		"split":         stdlib.SplitFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"regex":         stdlib.RegexFunc,
		"regexall":      stdlib.RegexAllFunc,

		// Collections.
		"compact":      stdlib.CompactFunc,
		"coalesce":     stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc,
		"concat":       concatFunc,
		"contains":     stdlib.ContainsFunc,
		"distinct":     stdlib.DistinctFunc,
		"flatten":      stdlib.FlattenFunc,
		"length":       lengthFunc,
		"sort":         stdlib.SortFunc,
		"keys":         stdlib.KeysFunc,
		"values":       stdlib.ValuesFunc,
		"lookup":       stdlib.LookupFunc,
		"merge":        stdlib.MergeFunc,
		"element":      stdlib.ElementFunc,
		"slice":        stdlib.SliceFunc,
		"reverse":      stdlib.ReverseListFunc,
		"setunion":     stdlib.SetUnionFunc,

		// Encoding, time, numbers.
		"jsonencode": stdlib.JSONEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,
		"abs":        stdlib.AbsoluteFunc,
		"min":        stdlib.MinFunc,
		"max":        stdlib.MaxFunc,

		// Conversions and error handling.
		"tostring": stdlib.MakeToFunc(cty.String),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"can":      tryfunc.CanFunc,
		"try":      tryfunc.TryFunc,

		// Environment; file() is added per config by Functions.
		"env": envFunc,

		// Identity normalisation (normalize.go).
		"normalize_email": normalizeEmailFunc,
		"e164":            e164Func,
		"normalize_tags":  normalizeTagsFunc,
		"nfc":             nfcFunc,
	}
	for name, f := range funcs {
		funcs[name] = guarded(f)
	}
	return funcs
})

// nullPassing wraps a function whose first parameter is a string so that a
// null first argument yields a null string instead of an error. The other
// parameters keep their own rules.
func nullPassing(f function.Function) function.Function {
	params := f.Params()
	params[0].AllowNull = true
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			types := make([]cty.Type, len(args))
			for i, a := range args {
				types[i] = a.Type()
			}
			return f.ReturnType(types)
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if args[0].IsNull() {
				return cty.NullVal(retType), nil
			}
			return f.Call(args)
		},
	})
}

// joinFunc is stdlib join, except that null elements and null lists are
// skipped, so join(" ", [source.firstName, source.lastName]) works when a
// name part is absent.
var joinFunc = function.New(&function.Spec{
	Description: "Concatenates the strings of the given lists, skipping nulls, with the separator between them.",
	Params: []function.Parameter{
		{Name: "separator", Type: cty.String},
	},
	VarParam: &function.Parameter{
		Name:      "lists",
		Type:      cty.List(cty.String),
		AllowNull: true,
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		cleaned := []cty.Value{args[0]}
		for _, list := range args[1:] {
			if list.IsNull() {
				continue
			}
			var elems []cty.Value
			for it := list.ElementIterator(); it.Next(); {
				if _, v := it.Element(); !v.IsNull() {
					elems = append(elems, v)
				}
			}
			if len(elems) == 0 {
				cleaned = append(cleaned, cty.ListValEmpty(cty.String))
				continue
			}
			cleaned = append(cleaned, cty.ListVal(elems))
		}
		if len(cleaned) == 1 {
			return cty.StringVal(""), nil
		}
		return stdlib.JoinFunc.Call(cleaned)
	},
})

// concatFunc is stdlib concat, except that null arguments are skipped: a
// record's list field (additional_emails) is null when the API omits it.
var concatFunc = function.New(&function.Spec{
	Description: "Concatenates the given lists or tuples, skipping null arguments.",
	VarParam: &function.Parameter{
		Name:             "seqs",
		Type:             cty.DynamicPseudoType,
		AllowNull:        true,
		AllowDynamicType: true,
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		if len(nonNull(args)) == 0 {
			return cty.EmptyTuple, nil
		}
		return stdlib.ConcatFunc.ReturnType(argTypes(nonNull(args)))
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(nonNull(args)) == 0 {
			return cty.EmptyTupleVal, nil
		}
		return stdlib.ConcatFunc.Call(nonNull(args))
	},
})

func nonNull(args []cty.Value) []cty.Value {
	out := make([]cty.Value, 0, len(args))
	for _, a := range args {
		if !a.IsNull() {
			out = append(out, a)
		}
	}
	return out
}

func argTypes(args []cty.Value) []cty.Type {
	types := make([]cty.Type, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	return types
}

// lengthFunc counts the characters of a string or the elements of a
// collection; null counts as zero, so length(source.tags) is safe on a
// record without tags.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of characters in a string or of elements in a collection; null has length zero.",
	Params: []function.Parameter{
		{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch {
		case v.IsNull():
			return cty.Zero, nil
		case v.Type() == cty.String:
			return stdlib.StrlenFunc.Call(args)
		default:
			return stdlib.LengthFunc.Call(args)
		}
	},
})

// envFunc reads an environment variable. Without a default an unset
// variable is an error, so a forgotten secret stops the load instead of
// silently sending an empty token.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the default when it is unset.",
	Params: []function.Parameter{
		{Name: "name", Type: cty.String},
	},
	VarParam: &function.Parameter{Name: "default", Type: cty.String},
	Type:     function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			sensitive.add(v, fmt.Sprintf("env(%q)", name))
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set", name)
	},
})

func makeFileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file, relative to the directory of the config, as a UTF-8 string.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			if !filepath.IsAbs(path) {
				path = filepath.Join(baseDir, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return cty.NilVal, fmt.Errorf("read file: %w", err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("file %s is not valid UTF-8", args[0].AsString())
			}
			sensitive.add(string(b), fmt.Sprintf("file(%q)", args[0].AsString()))
			return cty.StringVal(string(b)), nil
		},
	})
}
