package ghl

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
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
		{"missing token", `location_id = "LOC1"`, []diag{{"Missing GHL credentials", 1}}, 0},
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

func TestNewDecodesOAuth(t *testing.T) {
	dir := t.TempDir()
	type diag struct {
		Summary string
		Line    int
	}
	const head = "location_id = \"LOC1\"\n"
	tests := []struct {
		name       string
		src        string
		want       []diag
		wantScopes []string
		wantFile   string
		wantType   string
	}{
		{"minimal", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1:8765/callback"
}`, nil, DefaultScopes, "", "Location"},
		{"everything", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://localhost:8765/cb"
  scopes        = ["contacts.readonly", "contacts.readonly", "locations.readonly"]
  user_type     = "Company"
  company_id    = "COMP1"
  token_file    = "tokens.json"
  auth_url      = "http://127.0.0.1:9/oauth/chooselocation"
  token_url     = "https://example.com/oauth/token"
}`, nil, []string{"contacts.readonly", "locations.readonly"}, filepath.Join(dir, "tokens.json"), "Company"},
		{"token and oauth", head + `token = "pit"
oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1:8765/callback"
}`, []diag{{"Conflicting GHL credentials", 2}}, nil, "", ""},
		{"redirect not loopback", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "https://bellsync.example.com/callback"
}`, []diag{{"Invalid redirect_uri", 5}}, nil, "", ""},
		{"redirect without port", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1/callback"
}`, []diag{{"Invalid redirect_uri", 5}}, nil, "", ""},
		{"bad values", head + `oauth {
  client_id     = ""
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1:1/cb"
  scopes        = []
  user_type     = "Agency"
  token_url     = "http://tokens.example.com/oauth/token"
}`, []diag{{"Invalid client_id", 3}, {"Invalid scopes", 6}, {"Invalid user_type", 7}, {"Invalid token_url", 8}}, nil, "", ""},
		{"company without company_id", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1:1/cb"
  user_type     = "Company"
}`, []diag{{"Missing company_id", 2}}, nil, "", ""},
		{"two oauth blocks", head + `oauth {
  client_id     = "app"
  client_secret = "s3cret"
  redirect_uri  = "http://127.0.0.1:1/cb"
}
oauth {
}`, []diag{{"Duplicate oauth block", 7}}, nil, "", ""},
		{"missing secret", head + `oauth {
  client_id     = "app"
  redirect_uri  = "http://127.0.0.1:1/cb"
}`, []diag{{"Missing required argument", 2}}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tt.src), "sync.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("parse: %v", diags)
			}
			p, diags := New(f.Body, providers.Env{BaseDir: dir, Tokens: nopStore{}})
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
			o, ok := p.(*Provider).OAuth()
			if !ok {
				t.Fatal("OAuth() = false, want the oauth settings")
			}
			if d := cmp.Diff(tt.wantScopes, o.Config.Scopes); d != "" {
				t.Errorf("scopes (-want +got):\n%s", d)
			}
			if o.TokenFile != tt.wantFile || o.Config.UserType != tt.wantType || o.Config.LocationID != "LOC1" {
				t.Errorf("token file %q, user type %q, location %q; want %q, %q, LOC1",
					o.TokenFile, o.Config.UserType, o.Config.LocationID, tt.wantFile, tt.wantType)
			}
			if o.Config.ClientSecret.Reveal() != "s3cret" {
				t.Errorf("client secret not decoded")
			}
			if s := fmt.Sprintf("%v %+v", o, p); strings.Contains(s, "s3cret") {
				t.Errorf("printing the settings shows the client secret: %s", s)
			}
		})
	}
}

type nopStore struct{}

func (nopStore) LoadToken(context.Context, string) ([]byte, error) { return nil, providers.ErrNotFound }
func (nopStore) SaveToken(context.Context, string, []byte) error   { return nil }
