package paperbell

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bellsync/bellsync/providers"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalCtx offers env() over a fixed map, the way the engine's does over
// the process environment.
func evalCtx(vars map[string]string) *hcl.EvalContext {
	env := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "name", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, ok := vars[args[0].AsString()]
			if !ok {
				return cty.NilVal, fmt.Errorf("environment variable %s is not set", args[0].AsString())
			}
			return cty.StringVal(v), nil
		},
	})
	return &hcl.EvalContext{Functions: map[string]function.Function{"env": env}}
}

func TestFactory(t *testing.T) {
	vars := map[string]string{"PAPERBELL_API_KEY": "k-123"}
	tests := []struct {
		name string
		src  string
		// want lists "summary @ line:col" of each diagnostic.
		want []string
	}{
		{"ok", `
base_url = "http://127.0.0.1:8099"
api_key  = env("PAPERBELL_API_KEY")
rate_limit = 120
clients_path = "/v2/clients/"
`, nil},
		{"http to a remote host", `
base_url = "http://paperbell.example.com"
api_key  = "k"
`, []string{"Invalid Paperbell base URL @ 2:12"}},
		{"missing key and url", `rate_limit = 5`, []string{
			`Missing required argument @ 1:1`, `Missing required argument @ 1:1`,
		}},
		{"empty key, bad rate, bad path", `
base_url   = "https://api.example.com"
api_key    = ""
rate_limit = 0
notes_path = "notes"
`, []string{"Empty Paperbell API key @ 3:14", "Invalid rate limit @ 4:14", "Invalid API path @ 5:14"}},
		{"unset env var", `
base_url = "https://api.example.com"
api_key  = env("NOPE")
`, []string{"Error in function call @ 3:12"}},
		{"unknown attribute", `
base_url = "https://api.example.com"
api_key  = "k"
apikey   = "k"
`, []string{"Unsupported argument @ 4:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tt.src), "sync.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			p, diags := New(f.Body, providers.Env{EvalContext: evalCtx(vars)})
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no Subject", d.Summary)
					continue
				}
				got = append(got, fmt.Sprintf("%s @ %d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column))
				if strings.Contains(d.Detail, "k-123") {
					t.Errorf("diagnostic %q reveals the key", d.Summary)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if (p != nil) != (len(tt.want) == 0) {
				t.Errorf("provider = %v with diagnostics %v", p, got)
			}
		})
	}
}

func TestFactoryPaths(t *testing.T) {
	f, _ := hclsyntax.ParseConfig([]byte(`
base_url = "https://api.example.com/v1/"
api_key  = "k"
clients_path = "/v2/clients/"
`), "sync.hcl", hcl.InitialPos)
	p, diags := New(f.Body, providers.Env{EvalContext: evalCtx(nil)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := p.(*Provider).paths
	if diff := cmp.Diff(Paths{Clients: "/v2/clients", Tasks: "/tasks", Notes: "/notes"}, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	r, _ := p.Resource("tasks")
	if got := r.(*resource).item("12", "34"); got != "/v2/clients/12/tasks/34" {
		t.Errorf("task path = %q", got)
	}
}
