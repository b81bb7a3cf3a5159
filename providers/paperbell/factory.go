package paperbell

import (
	"fmt"
	"strings"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// bodySchema is the provider "paperbell" block:
//
//	provider "paperbell" {
//	  base_url     = "https://api.example.com/v1"  # required, no default
//	  api_key      = env("PAPERBELL_API_KEY")      # required
//	  rate_limit   = 60                            # requests per minute
//	  clients_path = "/clients"                    # optional path overrides
//	  tasks_path   = "/tasks"
//	  notes_path   = "/notes"
//	}
var bodySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "base_url", Required: true},
		{Name: "api_key", Required: true},
		{Name: "rate_limit"},
		{Name: "clients_path"},
		{Name: "tasks_path"},
		{Name: "notes_path"},
	},
}

// New is the providers.Factory for "paperbell". It decodes body with
// env.EvalContext, so env("PAPERBELL_API_KEY") works, and reports every
// problem it finds with a source range.
func New(body hcl.Body, env providers.Env) (providers.Provider, hcl.Diagnostics) {
	content, diags := body.Content(bodySchema)
	cfg := Config{HTTPClient: env.HTTPClient, Logger: env.Logger}
	attrs := content.Attributes

	if a, ok := attrs["base_url"]; ok {
		if s, ok := stringAttr(a, env.EvalContext, &diags); ok {
			if _, err := httpx.CheckBaseURL(s); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid Paperbell base URL",
					Detail: fmt.Sprintf("The Paperbell base_url is not usable: %s. Paperbell has no public API address, so give the URL "+
						"of your API (https), or of the emulator on a loopback address (http is allowed only there).", err),
					Subject: a.Expr.Range().Ptr(),
				})
			} else {
				cfg.BaseURL = s
			}
		}
	}
	if a, ok := attrs["api_key"]; ok {
		if s, ok := stringAttr(a, env.EvalContext, &diags); ok {
			if strings.TrimSpace(s) == "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Empty Paperbell API key",
					Detail:   "The api_key is empty. Copy the key from Paperbell's account settings into an environment variable and write api_key = env(\"PAPERBELL_API_KEY\").",
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				cfg.APIKey = secret.New(s)
			}
		}
	}
	if a, ok := attrs["rate_limit"]; ok {
		cfg.RateLimit = rateAttr(a, env.EvalContext, &diags)
	}
	for name, dst := range map[string]*string{
		"clients_path": &cfg.Paths.Clients,
		"tasks_path":   &cfg.Paths.Tasks,
		"notes_path":   &cfg.Paths.Notes,
	} {
		a, ok := attrs[name]
		if !ok {
			continue
		}
		if s, ok := stringAttr(a, env.EvalContext, &diags); ok {
			if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?#") {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid API path",
					Detail:   "The " + name + " must start with \"/\" and carry no query, for example \"/clients\".",
					Subject:  a.Expr.Range().Ptr(),
				})
				continue
			}
			*dst = strings.TrimSuffix(s, "/")
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	p, err := NewClient(cfg)
	if err != nil {
		r := body.MissingItemRange()
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid Paperbell provider",
			Detail:   err.Error() + ".",
			Subject:  &r,
		})
	}
	return p, diags
}

// stringAttr evaluates a required-when-present string attribute.
func stringAttr(a *hcl.Attribute, evalCtx *hcl.EvalContext, diags *hcl.Diagnostics) (string, bool) {
	v, d := a.Expr.Value(evalCtx)
	*diags = append(*diags, d...)
	if d.HasErrors() {
		return "", false
	}
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing value",
			Detail:   "The " + a.Name + " must be set to a string known when the config is loaded.",
			Subject:  a.Expr.Range().Ptr(),
		})
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   "The " + a.Name + " must be a string.",
			Subject:  a.Expr.Range().Ptr(),
		})
		return "", false
	}
	return s.AsString(), true
}

func rateAttr(a *hcl.Attribute, evalCtx *hcl.EvalContext, diags *hcl.Diagnostics) int {
	v, d := a.Expr.Value(evalCtx)
	*diags = append(*diags, d...)
	if d.HasErrors() {
		return 0
	}
	v, _ = v.Unmark()
	var n int
	if v.IsNull() || !v.IsKnown() || gocty.FromCtyValue(v, &n) != nil || n <= 0 {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid rate limit",
			Detail:   "The rate_limit is requests per minute and must be a whole number above zero; leave it out for the default of 60.",
			Subject:  a.Expr.Range().Ptr(),
		})
		return 0
	}
	return n
}
