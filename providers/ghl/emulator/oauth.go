package emulator

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
)

// OAuthAuthenticate returns an [Options.Authenticate] hook that accepts
// the access tokens o issued, in place of static tokens. Unknown, expired
// and revoked tokens get GHL's 401 "Invalid token" body. Scopes are
// enforced strictly by [oauthemu.RouteScopes]: a token without the exact
// scope a route needs gets GHL's 401 for a missing scope, even where the
// static-token path lets a write scope stand in for the read one. An
// agency token on a sub-account route is answered like a missing scope,
// as GHL does.
func OAuthAuthenticate(o *oauthemu.Server) func(r *http.Request) (string, []string, error) {
	// A mux of the scoped routes finds the pattern a request will be
	// routed to before the pipeline routes it.
	routes := http.NewServeMux()
	for pattern := range oauthemu.RouteScopes {
		routes.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	}
	return func(r *http.Request) (string, []string, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			return "", nil, ErrInvalidToken
		}
		loc, scopes, err := o.Validate(tok)
		switch {
		case errors.Is(err, oauthemu.ErrNotLocationToken):
			// No scope at all: every scoped route answers the scope 401.
			return "", []string{}, nil
		case err != nil:
			return "", nil, ErrInvalidToken
		}
		if scopes == nil {
			// nil would allow every route; a grant of nothing allows none.
			scopes = []string{}
		}
		if _, pattern := routes.Handler(r); pattern != "" {
			if need := oauthemu.RouteScopes[pattern]; need != "" && !slices.Contains(scopes, need) {
				// Hide the grant so the route's own check answers with
				// the scope 401, counted like any other reply.
				return loc, []string{}, nil
			}
		}
		return loc, scopes, nil
	}
}

// MountOAuth serves o's consent page and token endpoints on s's base URL,
// as GHL serves /oauth/token next to the API.
func (s *Server) MountOAuth(o *oauthemu.Server) {
	for _, p := range []string{
		"GET /oauth/chooselocation",
		"GET /v2/oauth/chooselocation",
		"POST /oauth/token",
		"POST /oauth/locationToken",
	} {
		s.Mount(p, o)
	}
}
