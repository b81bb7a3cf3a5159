package ghl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/httpx"
)

// Check tests the token, for OAuth that every configured scope was
// granted, that the location is reachable with it, and that one contact
// can be read. Later steps are skipped once one fails, since
// they would fail for the same reason.
func (p *Provider) Check(ctx context.Context) []providers.CheckResult {
	var out []providers.CheckResult
	if _, err := p.tokens.Token(ctx); err != nil {
		return append(out, providers.CheckResult{Name: "token", Detail: err.Error()})
	}
	out = append(out, providers.CheckResult{Name: "token", OK: true, Detail: p.tokenDetail()})
	if r, ok := p.checkScopes(); ok {
		out = append(out, r)
	}

	var loc struct {
		Location struct {
			Name     string `json:"name"`
			Settings struct {
				AllowDuplicateContact *bool `json:"allowDuplicateContact"`
			} `json:"settings"`
		} `json:"location"`
	}
	err := p.do(ctx, call{op: "get location", scope: scopeLocationsRead,
		req: httpx.Request{Method: http.MethodGet, Path: "/locations/" + p.locationID, Idempotent: true}}, &loc)
	if err != nil {
		if pe, ok := providers.AsError(err); ok && errors.Is(err, providers.ErrAuth) && pe.Status == http.StatusUnauthorized && pe.Scope == "" {
			// A Private Integration Token can only be tested by using it:
			// a 401 here means the token itself is wrong, not the location.
			out[0] = providers.CheckResult{Name: "token", Detail: "GHL rejected the token: " + err.Error()}
			return out
		}
		return append(out, providers.CheckResult{Name: "location", Detail: err.Error()})
	}
	detail := p.locationID
	if loc.Location.Name != "" {
		detail = fmt.Sprintf("%s (%s)", loc.Location.Name, p.locationID)
	}
	if d := loc.Location.Settings.AllowDuplicateContact; d != nil && *d {
		detail += "; allows duplicate contacts, so matching relies on bellsync's links"
	}
	out = append(out, providers.CheckResult{Name: "location", OK: true, Detail: detail})

	var res searchResult
	err = p.do(ctx, call{op: "search contacts", scope: scopeContactsRead,
		req: httpx.Request{Method: http.MethodPost, Path: "/contacts/search", Idempotent: true,
			JSON: searchBody{LocationID: p.locationID, PageLimit: 1}}}, &res)
	if err != nil {
		return append(out, providers.CheckResult{Name: "contacts", Detail: err.Error()})
	}
	return append(out, providers.CheckResult{Name: "contacts", OK: true, Detail: fmt.Sprintf("%d contacts", res.Total)})
}

// tokenDetail describes the credential without showing it.
func (p *Provider) tokenDetail() string {
	src, ok := p.tokens.(*oauth.Source)
	if !ok || p.oauth == nil {
		// A Private Integration Token carries nothing to report.
		return ""
	}
	t, _ := src.Current()
	d := "OAuth " + p.oauth.Config.UserType + " token"
	if !t.Expiry.IsZero() {
		d += ", expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return d
}

// checkScopes compares the scopes GHL granted with those the config asks
// for, naming any that are missing: GHL's own 401 for a missing scope does
// not say which one. ok is false when there is nothing to compare (a
// Private Integration Token carries no scope list bellsync can read).
func (p *Provider) checkScopes() (providers.CheckResult, bool) {
	src, ok := p.tokens.(*oauth.Source)
	if !ok || p.oauth == nil {
		return providers.CheckResult{}, false
	}
	t, _ := src.Current()
	want := p.oauth.Config.Scopes
	if len(t.Scopes) == 0 {
		return providers.CheckResult{Name: "scopes", OK: true,
			Detail: "GHL did not report the granted scopes; asked for " + strings.Join(want, " ")}, true
	}
	if missing := oauth.Missing(t.Scopes, want); len(missing) > 0 {
		return providers.CheckResult{Name: "scopes", Detail: fmt.Sprintf(
			"missing %s (granted: %s); add them to the app's scopes and run `bellsync auth ghl` again",
			strings.Join(missing, ", "), strings.Join(t.Scopes, " "))}, true
	}
	return providers.CheckResult{Name: "scopes", OK: true, Detail: strings.Join(want, " ")}, true
}
