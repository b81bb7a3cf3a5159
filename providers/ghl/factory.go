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

// bodySchema is the provider "ghl" block. It authenticates with exactly
// one of a Private Integration Token (token) or an oauth block, which
// builds a refreshing token source instead (see oauthSchema).
var bodySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "location_id", Required: true},
		{Name: "token"},
		{Name: "base_url"},
		{Name: "rate_limit"},
		{Name: "page_size"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "oauth"}},
}

// Detail texts for the credential diagnostics.
const (
	detailNoCredentials = "The GHL provider needs credentials: either token = env(\"GHL_PRIVATE_TOKEN\") " +
		"for a sub-account Private Integration Token, or an oauth block for a Marketplace app " +
		"(then run `bellsync auth ghl` once). Add one of them."
	detailBothCredentials = "The GHL provider has both a token and an oauth block, so it is unclear which " +
		"credentials to use. Remove one of them."
)

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

	var settings *OAuth
	tokAttr, hasToken := content.Attributes["token"]
	var oauthBlock *hcl.Block
	for _, b := range content.Blocks {
		if oauthBlock != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate oauth block",
				Detail:   fmt.Sprintf("The GHL provider takes one oauth block; the first is at %s. Remove this one.", oauthBlock.DefRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		oauthBlock = b
	}
	switch {
	case hasToken && oauthBlock != nil:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting GHL credentials",
			Detail:   detailBothCredentials,
			Subject:  tokAttr.Range.Ptr(),
		})
	case !hasToken && oauthBlock == nil:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing GHL credentials",
			Detail:   detailNoCredentials,
			Subject:  body.MissingItemRange().Ptr(),
		})
	case oauthBlock != nil && cfg.LocationID != "":
		settings, cfg.TokenSource, ds = decodeOAuth(oauthBlock, cfg.LocationID, env)
		diags = append(diags, ds...)
	}

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
	p.oauth = settings
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
