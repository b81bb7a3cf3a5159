package ghl

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// DefaultScopes are the scopes asked for when the oauth block names none:
// what the contacts, tasks and notes kinds and the connection check need
// (NOTES §2.2).
var DefaultScopes = []string{scopeContactsRead, scopeContactsWrite, scopeLocationsRead}

// oauthSchema is the oauth block inside provider "ghl":
//
//	oauth {
//	  client_id     = env("GHL_CLIENT_ID")      # required
//	  client_secret = env("GHL_CLIENT_SECRET")  # required
//	  redirect_uri  = "http://127.0.0.1:8765/callback"  # required, loopback
//	  scopes        = ["contacts.readonly", "contacts.write", "locations.readonly"]
//	  user_type     = "Location"   # or "Company" (agency token)
//	  company_id    = "..."        # required for Company
//	  token_file    = "ghl-token.json"  # optional: a 0600 file, not the state db
//	  auth_url      = "..."        # optional, defaults to GHL's
//	  token_url     = "..."        # optional, defaults to GHL's
//	}
var oauthSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "client_id", Required: true},
		{Name: "client_secret", Required: true},
		{Name: "redirect_uri", Required: true},
		{Name: "scopes"},
		{Name: "user_type"},
		{Name: "company_id"},
		{Name: "token_file"},
		{Name: "auth_url"},
		{Name: "token_url"},
	},
}

// OAuth is what `bellsync auth ghl` needs to connect a configured
// location: the app settings and the store the tokens go to.
type OAuth struct {
	Config oauth.Config
	Store  providers.TokenStore
	// TokenFile is the token file's path, or "" when the tokens live in
	// the state database.
	TokenFile string
}

// OAuth returns the provider's OAuth settings, and false when it uses a
// static token.
func (p *Provider) OAuth() (OAuth, bool) {
	if p.oauth == nil {
		return OAuth{}, false
	}
	return *p.oauth, true
}

// decodeOAuth reads the oauth block and builds the token source the API
// client uses. locationID is the provider's location_id.
func decodeOAuth(block *hcl.Block, locationID string, env providers.Env) (*OAuth, TokenSource, hcl.Diagnostics) {
	content, diags := block.Body.Content(oauthSchema)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	evalCtx := env.EvalContext
	var ds hcl.Diagnostics
	cfg := oauth.Config{LocationID: locationID, Logger: env.Logger, HTTPClient: env.HTTPClient}

	cfg.ClientID, ds = stringAttr(content, "client_id", evalCtx)
	diags = append(diags, ds...)
	var sec string
	sec, ds = stringAttr(content, "client_secret", evalCtx)
	diags = append(diags, ds...)
	cfg.ClientSecret = secret.New(sec)

	if attr, ok := content.Attributes["redirect_uri"]; ok {
		cfg.RedirectURI, ds = stringAttr(content, "redirect_uri", evalCtx)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			if _, err := oauth.CheckRedirectURI(cfg.RedirectURI); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid redirect_uri",
					Detail:   "The " + strings.TrimPrefix(err.Error(), "oauth: ") + ".",
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
	}

	cfg.Scopes = slices.Clone(DefaultScopes)
	if attr, ok := content.Attributes["scopes"]; ok {
		cfg.Scopes, ds = scopesAttr(attr, evalCtx)
		diags = append(diags, ds...)
	}

	cfg.UserType = oauth.UserLocation
	if attr, ok := content.Attributes["user_type"]; ok {
		cfg.UserType, ds = stringAttr(content, "user_type", evalCtx)
		diags = append(diags, ds...)
		if !ds.HasErrors() && cfg.UserType != oauth.UserLocation && cfg.UserType != oauth.UserCompany {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid user_type",
				Detail: fmt.Sprintf("The user_type must be %q (a sub-account token, the usual choice) or %q "+
					"(an agency token that mints a token for location_id).", oauth.UserLocation, oauth.UserCompany),
				Subject: attr.Expr.Range().Ptr(),
			})
		}
	}
	if _, ok := content.Attributes["company_id"]; ok {
		cfg.CompanyID, ds = stringAttr(content, "company_id", evalCtx)
		diags = append(diags, ds...)
	}
	if cfg.UserType == oauth.UserCompany && cfg.CompanyID == "" && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing company_id",
			Detail:   "An agency (Company) token belongs to one company. Set company_id to the agency's company id.",
			Subject:  block.DefRange.Ptr(),
		})
	}

	for _, name := range []string{"auth_url", "token_url"} {
		attr, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, ds := stringAttr(content, name, evalCtx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if _, err := httpx.CheckBaseURL(v); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("The GHL %s is not usable: %s. Leave it out to use GHL's own endpoint.", name, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		if name == "auth_url" {
			cfg.AuthURL = v
		} else {
			cfg.TokenURL = v
		}
	}

	settings := &OAuth{Config: cfg}
	if _, ok := content.Attributes["token_file"]; ok {
		var path string
		path, ds = stringAttr(content, "token_file", evalCtx)
		diags = append(diags, ds...)
		if !filepath.IsAbs(path) && env.BaseDir != "" {
			path = filepath.Join(env.BaseDir, path)
		}
		settings.TokenFile = path
		settings.Store = &oauth.FileStore{Path: path}
	} else if env.Tokens != nil {
		settings.Store = env.Tokens
	} else {
		// Only callers without a state store (validate) get here; they
		// never ask for a token.
		settings.Store = noStore{}
	}
	if diags.HasErrors() {
		return nil, nil, diags
	}

	src, err := oauth.NewSource(cfg, settings.Store)
	if err == nil && cfg.UserType == oauth.UserCompany {
		src, err = oauth.NewLocationSource(src, locationID)
	}
	if err != nil {
		return nil, nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid GHL OAuth settings",
			Detail:   "The OAuth settings are not usable: " + err.Error() + ".",
			Subject:  block.DefRange.Ptr(),
		})
	}
	return settings, src, diags
}

// scopesAttr evaluates a non-empty list of distinct scope names.
func scopesAttr(attr *hcl.Attribute, evalCtx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(evalCtx)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid scopes",
		Detail: "The scopes argument must be a non-empty list of GHL scope names, for example " +
			`["contacts.readonly", "contacts.write", "locations.readonly"].`,
		Subject: attr.Expr.Range().Ptr(),
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || lv.IsNull() || !lv.IsWhollyKnown() || lv.LengthInt() == 0 {
		return nil, append(diags, bad)
	}
	var out []string
	for _, e := range lv.AsValueSlice() {
		if e.IsNull() || strings.TrimSpace(e.AsString()) == "" || strings.ContainsAny(e.AsString(), " \t") {
			return nil, append(diags, bad)
		}
		if !slices.Contains(out, e.AsString()) {
			out = append(out, e.AsString())
		}
	}
	return out, diags
}

// errNoStore is what a provider built without a state store answers when
// asked for a token.
var errNoStore = errors.New("ghl: no token store: this command does not open the state database")

// noStore is the token store of providers built without one.
type noStore struct{}

func (noStore) LoadToken(context.Context, string) ([]byte, error) { return nil, errNoStore }
func (noStore) SaveToken(context.Context, string, []byte) error   { return errNoStore }
