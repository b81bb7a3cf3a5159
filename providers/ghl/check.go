package ghl

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
)

// Check tests the token, that the location is reachable with it, and that
// one contact can be read. Later steps are skipped once one fails, since
// they would fail for the same reason.
func (p *Provider) Check(ctx context.Context) []providers.CheckResult {
	var out []providers.CheckResult
	if _, err := p.tokens.Token(ctx); err != nil {
		return append(out, providers.CheckResult{Name: "token", Detail: err.Error()})
	}
	out = append(out, providers.CheckResult{Name: "token", OK: true})

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
