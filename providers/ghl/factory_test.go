package ghl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/secret"
)

func TestNewDecodesBody(t *testing.T) {
	envFn := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "name", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal("value-of-" + args[0].AsString()), nil
		},
	})
	evalCtx := &hcl.EvalContext{Functions: map[string]function.Function{"env": envFn}}
	type diag struct {
		Summary string
		Line    int
	}
	tests := []struct {
		name     string
		src      string
		want     []diag
		wantPage int
	}{
		{"minimal", `
location_id = "LOC1"
token       = env("GHL_PRIVATE_TOKEN")
`, nil, DefaultPageSize},
		{"all settings", `
location_id = "LOC1"
token       = "pit-x"
base_url    = "http://127.0.0.1:9999"
rate_limit  = 25
page_size   = 100
`, nil, 100},
		{"bad values", `
location_id = ""
token       = "pit-x"
base_url    = "http://example.com"
rate_limit  = 1.5
page_size   = 501
`, []diag{{"Invalid location_id", 2}, {"Invalid base_url", 4}, {"Invalid rate_limit", 5}, {"Invalid page_size", 6}}, 0},
		{"missing token", `location_id = "LOC1"`, []diag{{"Missing required argument", 1}}, 0},
		{"unknown argument", `
location_id = "LOC1"
token       = "x"
api_key     = "y"
`, []diag{{"Unsupported argument", 4}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tt.src), "sync.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("parse: %v", diags)
			}
			p, diags := New(f.Body, providers.Env{EvalContext: evalCtx})
			var got []diag
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no Subject", d.Summary)
					continue
				}
				got = append(got, diag{d.Summary, d.Subject.Start.Line})
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("diagnostics (-want +got):\n%s", d)
			}
			if tt.want != nil {
				return
			}
			gp := p.(*Provider)
			if gp.pageSize != tt.wantPage || gp.LocationID() != "LOC1" {
				t.Errorf("page size %d, location %q", gp.pageSize, gp.LocationID())
			}
		})
	}
}

func TestNewDefaultsDoNotDial(t *testing.T) {
	// Building a provider with the default base URL must not contact it.
	p, err := NewClient(Config{LocationID: "L", Token: secret.New("x")})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.http.BaseURL.String(); got != DefaultBaseURL {
		t.Errorf("base url = %q", got)
	}
	if p.Stats().Calls != 0 {
		t.Errorf("calls made at construction")
	}
}
