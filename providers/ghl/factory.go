package ghl

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// bodySchema is the provider "ghl" block. An oauth block joins it when
// OAuth lands; it will then build a TokenSource in place of the token.
var bodySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "location_id", Required: true},
		{Name: "token", Required: true},
		{Name: "base_url"},
		{Name: "rate_limit"},
		{Name: "page_size"},
	},
}

var _ providers.Factory = New

// New is the providers.Factory for provider "ghl".
func New(body hcl.Body, env providers.Env) (providers.Provider, hcl.Diagnostics) {
	content, diags := body.Content(bodySchema)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg := Config{Logger: env.Logger, HTTPClient: env.HTTPClient}
	var ds hcl.Diagnostics

	cfg.LocationID, ds = stringAttr(content, "location_id", env.EvalContext)
	diags = append(diags, ds...)
	var tok string
	tok, ds = stringAttr(content, "token", env.EvalContext)
	diags = append(diags, ds...)
	cfg.Token = secret.New(tok)

	if attr, ok := content.Attributes["base_url"]; ok {
		cfg.BaseURL, ds = stringAttr(content, "base_url", env.EvalContext)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			if _, err := httpx.CheckBaseURL(cfg.BaseURL); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid base_url",
					Detail:   fmt.Sprintf("The GHL base_url is not usable: %s.", err),
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
	}
	cfg.RateLimit, ds = intAttr(content, "rate_limit", env.EvalContext, DefaultRateLimit, 1, 1<<20)
	diags = append(diags, ds...)
	cfg.PageSize, ds = intAttr(content, "page_size", env.EvalContext, DefaultPageSize, 1, MaxPageSize)
	diags = append(diags, ds...)
	if diags.HasErrors() {
		return nil, diags
	}

	p, err := NewClient(cfg)
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid GHL provider settings",
			Detail:   err.Error() + ".",
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	return p, diags
}

// stringAttr evaluates a string attribute; an absent one is "".
func stringAttr(c *hcl.BodyContent, name string, evalCtx *hcl.EvalContext) (string, hcl.Diagnostics) {
	attr, ok := c.Attributes[name]
	if !ok {
		return "", nil
	}
	v, diags := attr.Expr.Value(evalCtx)
	if diags.HasErrors() {
		return "", diags
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() || !sv.IsKnown() || sv.AsString() == "" {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + name,
			Detail:   fmt.Sprintf("The %s argument must be a non-empty string.", name),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return sv.AsString(), diags
}

// intAttr evaluates a whole-number attribute within [lo, hi], or returns
// def when it is absent.
func intAttr(c *hcl.BodyContent, name string, evalCtx *hcl.EvalContext, def, lo, hi int) (int, hcl.Diagnostics) {
	attr, ok := c.Attributes[name]
	if !ok {
		return def, nil
	}
	v, diags := attr.Expr.Value(evalCtx)
	if diags.HasErrors() {
		return def, diags
	}
	bad := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + name,
		Detail:   fmt.Sprintf("The %s argument must be a whole number from %d to %d.", name, lo, hi),
		Subject:  attr.Expr.Range().Ptr(),
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() || !nv.IsKnown() {
		return def, append(diags, bad)
	}
	bf := nv.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < int64(lo) || n > int64(hi) {
		return def, append(diags, bad)
	}
	return int(n), diags
}
