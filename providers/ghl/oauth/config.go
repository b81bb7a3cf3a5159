package oauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// Defaults for the GHL Marketplace endpoints (NOTES §2.1).
const (
	DefaultAuthURL  = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
	DefaultTokenURL = "https://services.leadconnectorhq.com/oauth/token"
	// DefaultSkew is how long before expiry a token is refreshed. GHL access
	// tokens last about a day, so five minutes costs nothing and covers
	// clock drift and slow requests.
	DefaultSkew = 5 * time.Minute
)

// User types GHL issues tokens for.
const (
	UserLocation = "Location" // a sub-account token
	UserCompany  = "Company"  // an agency token
)

// apiVersion is the Version header /oauth/locationToken requires.
const apiVersion = "2021-07-28"

// Config describes one Marketplace app and the account it connects to. The
// zero values of the optional fields select GHL's production endpoints and
// sensible defaults. A Config is a value; it holds no connections or
// contexts and may be copied freely.
type Config struct {
	ClientID     string
	ClientSecret secret.String
	// RedirectURI is where the browser returns after consent. It must be
	// http on a loopback address with an explicit port, because the CLI
	// receives the callback itself; register the same URI on the app.
	RedirectURI string
	Scopes      []string
	// UserType is UserLocation (the default) or UserCompany.
	UserType string
	// AuthURL and TokenURL default to DefaultAuthURL and DefaultTokenURL.
	AuthURL, TokenURL string
	// LocationTokenURL defaults to TokenURL with its last element replaced
	// by "locationToken".
	LocationTokenURL string
	// LocationID and CompanyID name the account the tokens are for. When
	// LocationID is empty, Authorize accepts whatever location the user
	// picks on the consent page.
	LocationID, CompanyID string
	// Skew is how long before expiry a Source refreshes; 0 means
	// DefaultSkew.
	Skew time.Duration
	// HTTPClient sends token requests (x/oauth2's included, through
	// the oauth2.HTTPClient context value); nil means a client with a 30s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// defaultClient bounds token calls: a hung token endpoint must not hang
// every API call waiting on the refresh.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

func (c Config) userType() string {
	if c.UserType == "" {
		return UserLocation
	}
	return c.UserType
}

func (c Config) authURL() string {
	if c.AuthURL == "" {
		return DefaultAuthURL
	}
	return c.AuthURL
}

func (c Config) tokenURL() string {
	if c.TokenURL == "" {
		return DefaultTokenURL
	}
	return c.TokenURL
}

func (c Config) locationTokenURL() string {
	if c.LocationTokenURL != "" {
		return c.LocationTokenURL
	}
	u := c.tokenURL()
	if i := strings.LastIndex(u, "/"); i >= 0 {
		return u[:i] + "/locationToken"
	}
	return u
}

func (c Config) skew() time.Duration {
	if c.Skew <= 0 {
		return DefaultSkew
	}
	return c.Skew
}

func (c Config) client() *http.Client {
	if c.HTTPClient == nil {
		return defaultClient
	}
	return c.HTTPClient
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Validate checks the settings every token call needs: client credentials,
// a known user type and endpoints that are https (or http to loopback, for
// emulators). It does not check RedirectURI; see [CheckRedirectURI].
func (c Config) Validate() error {
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id is empty"))
	}
	if c.ClientSecret.IsZero() {
		errs = append(errs, errors.New("client_secret is empty"))
	}
	switch c.userType() {
	case UserLocation, UserCompany:
	default:
		errs = append(errs, fmt.Errorf("user_type %q must be %q or %q", c.UserType, UserLocation, UserCompany))
	}
	for _, u := range []struct{ name, v string }{
		{"auth URL", c.authURL()}, {"token URL", c.tokenURL()}, {"location token URL", c.locationTokenURL()},
	} {
		if _, err := httpx.CheckBaseURL(u.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("oauth: config: %w", err)
	}
	return nil
}

// CheckRedirectURI reports whether raw can receive the OAuth callback on
// this machine: http, a loopback host (127.0.0.1, localhost or [::1]) and
// an explicit port. Anything else would send the browser, and the code,
// somewhere the CLI is not listening.
func CheckRedirectURI(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("oauth: redirect_uri %q: %w", raw, err)
	}
	const want = "; use http://127.0.0.1:PORT/callback and register the same URI on the app"
	switch {
	case u.Scheme != "http":
		return nil, fmt.Errorf("oauth: redirect_uri %q must use http to a loopback address%s", raw, want)
	case !httpx.IsLoopback(u.Hostname()):
		return nil, fmt.Errorf("oauth: redirect_uri %q is not a loopback address, so bellsync cannot receive the callback%s", raw, want)
	case u.Port() == "" || u.Port() == "0":
		return nil, fmt.Errorf("oauth: redirect_uri %q needs an explicit port%s", raw, want)
	case u.User != nil || u.Fragment != "":
		return nil, fmt.Errorf("oauth: redirect_uri %q must not carry user info or a fragment%s", raw, want)
	}
	return u, nil
}

// oauth2Config is c in golang.org/x/oauth2's terms, for the consent URL
// and the authorization-code exchange. The client credentials travel in
// the form body, as GHL's /oauth/token expects; naming the style also
// stops x/oauth2 from probing for one, which would send a failed request
// a second time. Build one per call and do not keep it: it holds the raw
// client secret.
func (c Config) oauth2Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret.Reveal(),
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.authURL(),
			TokenURL:  c.tokenURL(),
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: c.RedirectURI,
		Scopes:      c.Scopes,
	}
}

// authParams are the query parameters [oauth2.Config.AuthCodeURL] sets.
var authParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state"}

// AuthorizeURL is the consent page URL for state, with GHL's parameters:
// response_type=code, redirect_uri, client_id and space-separated scope.
// Query parameters already in AuthURL (such as loginWindowOpenMode) are
// kept, except ones of the same names, which these replace.
func (c Config) AuthorizeURL(state string) string {
	base, err := url.Parse(c.authURL())
	if err != nil {
		// Validate rejects such a URL; build something that fails visibly.
		return c.authURL()
	}
	// AuthCodeURL appends its parameters to the URL as a string, so drop
	// any it would repeat, and the fragment it would append them after.
	q := base.Query()
	for _, k := range authParams {
		q.Del(k)
	}
	base.RawQuery = q.Encode()
	fragment := base.Fragment
	base.Fragment, base.RawFragment = "", ""

	oc := c.oauth2Config()
	oc.ClientSecret = "" // not part of the URL; do not hold it longer than needed
	oc.Endpoint.AuthURL = base.String()
	u, err := url.Parse(oc.AuthCodeURL(state))
	if err != nil {
		return c.authURL()
	}
	// x/oauth2 writes the space between scopes as "+", which only form
	// decoders read as a space; GHL's documentation writes it as %20,
	// which everything reads as one. Encode escapes a literal "+" as %2B,
	// so every "+" left is a space.
	u.RawQuery = strings.ReplaceAll(u.Query().Encode(), "+", "%20")
	u.Fragment = fragment
	return u.String()
}

// StoreKey is the TokenStore key for this config's tokens: LocationKey for
// sub-account tokens, CompanyKey for agency tokens.
func (c Config) StoreKey() string {
	if c.userType() == UserCompany {
		return CompanyKey(c.CompanyID)
	}
	return LocationKey(c.LocationID)
}

// LocationKey is the TokenStore key of a location's token.
func LocationKey(locationID string) string { return "ghl/" + locationID }

// CompanyKey is the TokenStore key of an agency's token.
func CompanyKey(companyID string) string { return "ghl/company/" + companyID }
