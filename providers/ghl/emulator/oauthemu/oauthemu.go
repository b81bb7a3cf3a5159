// Package oauthemu is an offline stand-in for GoHighLevel's OAuth 2.0
// endpoints, for tests and `bellsync emulate`. It follows apps/oauth.json
// and NOTES §2: the consent page (auto-approved), POST /oauth/token with
// the authorization_code and refresh_token grants, and POST
// /oauth/locationToken.
//
// It is stricter than GHL is known to be where GHL's behaviour is not
// documented, so that code passing against it is safe against either:
// codes are single use, refresh tokens rotate strictly (a used one is
// refused with invalid_grant), and the redirect_uri of the exchange must
// match the one of the consent request.
//
// The API emulator checks bearer tokens with [Server.Validate] and scopes
// with [RequireScope] and [RouteScopes].
package oauthemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. ClientID and ClientSecret are the one
// registered app; LocationID and CompanyID the account that approves it.
type Options struct {
	ClientID     string
	ClientSecret string
	// RedirectURI, when set, is the only redirect_uri the consent page
	// accepts. Empty accepts any absolute http(s) URI.
	RedirectURI string
	LocationID  string
	CompanyID   string
	// ApprovedLocations are further locations an agency token may mint
	// tokens for, besides LocationID.
	ApprovedLocations []string
	// UserID is reported as the installing user; empty means "emu-user".
	UserID string
	// Scopes are granted to every token, whatever the request asked.
	Scopes []string
	// AccessTTL is the access token lifetime; 0 means 86399s, as GHL.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token lifetime; 0 means a year.
	RefreshTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand supplies token bytes; nil means crypto/rand.
	Rand io.Reader
}

// Validation failures. GHL answers all of them with the same 401 body
// (see [WriteInvalidToken]); the emulator tells them apart for tests.
var (
	ErrUnknownToken = errors.New("oauthemu: unknown access token")
	ErrExpiredToken = errors.New("oauthemu: access token expired")
	ErrRevokedToken = errors.New("oauthemu: access token revoked")
	// ErrNotLocationToken is an agency token used on a sub-account route;
	// GHL answers it like a missing scope.
	ErrNotLocationToken = errors.New("oauthemu: not a sub-account token")
)

// Stats counts calls to the token endpoints, successful or not.
type Stats struct {
	Authorize         int // consent page visits that issued a code
	AuthorizationCode int // POST /oauth/token, grant_type=authorization_code
	RefreshToken      int // POST /oauth/token, grant_type=refresh_token
	OtherGrant        int // POST /oauth/token with any other grant_type
	LocationToken     int // POST /oauth/locationToken
	Rejected          int // calls of the above answered with an error
}

// Server is the emulated OAuth server. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	opts Options
	mux  *http.ServeMux

	// mu guards every field below.
	mu      sync.Mutex
	ttl     time.Duration
	codes   map[string]*code
	access  map[string]*grant
	refresh map[string]*grant
	stats   Stats
	// faults is how many token calls still answer faultStatus.
	faults      int
	faultStatus int
}

// code is an issued authorization code.
type code struct {
	redirectURI string
	expires     time.Time
	used        bool
}

// grant is an issued access or refresh token.
type grant struct {
	locationID, companyID, userType string
	scopes                          []string
	expires                         time.Time
	used, revoked                   bool
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = 86399 * time.Second
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 365 * 24 * time.Hour
	}
	if opts.UserID == "" {
		opts.UserID = "emu-user"
	}
	s := &Server{
		opts: opts, ttl: opts.AccessTTL,
		codes: map[string]*code{}, access: map[string]*grant{}, refresh: map[string]*grant{},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /oauth/chooselocation", s.chooseLocation)
	s.mux.HandleFunc("GET /v2/oauth/chooselocation", s.chooseLocation)
	s.mux.HandleFunc("POST /oauth/token", s.token)
	s.mux.HandleFunc("POST /oauth/locationToken", s.locationToken)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetAccessTTL changes the lifetime of access tokens issued from now on.
func (s *Server) SetAccessTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = d
}

// Stats returns the call counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// FailTokenCalls makes the next n calls to the token endpoints answer
// status without touching any token, to test transient failures.
func (s *Server) FailTokenCalls(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.faultStatus = n, status
}

// Revoke models an uninstall from locationID: every access and refresh
// token for it stops working. A new consent issues working tokens again.
func (s *Server) Revoke(locationID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*grant{s.access, s.refresh} {
		for _, g := range m {
			if g.locationID == locationID {
				g.revoked = true
			}
		}
	}
}

// Validate checks a bearer access token as the API would, and returns the
// location and scopes it carries. Errors match the Err*Token sentinels.
func (s *Server) Validate(accessToken string) (locationID string, scopes []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.check(accessToken)
	if err != nil {
		return "", nil, err
	}
	if g.userType != "Location" {
		return "", nil, ErrNotLocationToken
	}
	return g.locationID, slices.Clone(g.scopes), nil
}

// check looks an access token up. s.mu must be held.
func (s *Server) check(accessToken string) (*grant, error) {
	g, ok := s.access[accessToken]
	switch {
	case !ok:
		return nil, ErrUnknownToken
	case g.revoked:
		return nil, ErrRevokedToken
	case !s.now().Before(g.expires):
		return nil, ErrExpiredToken
	}
	return g, nil
}

func (s *Server) now() time.Time {
	if s.opts.Now == nil {
		return time.Now()
	}
	return s.opts.Now()
}

// newToken returns a random token string. s.mu must be held, since
// opts.Rand need not be safe for concurrent use.
func (s *Server) newToken(prefix string) string {
	r := s.opts.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(fmt.Sprintf("oauthemu: random source failed: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}

// chooseLocation is the consent page, approved at once: it redirects to
// redirect_uri with a code, and state if one was sent. Bad requests get an
// error page and are never redirected, since the redirect_uri is untrusted.
func (s *Server) chooseLocation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("client_id") != s.opts.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	ru := q.Get("redirect_uri")
	target, err := url.Parse(ru)
	if err != nil || !target.IsAbs() || (target.Scheme != "http" && target.Scheme != "https") ||
		(s.opts.RedirectURI != "" && ru != s.opts.RedirectURI) {
		http.Error(w, "redirect_uri does not match the app's redirect URI", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	c := s.newToken("emu-code-")
	s.codes[c] = &code{redirectURI: ru, expires: s.now().Add(10 * time.Minute)}
	s.stats.Authorize++
	s.mu.Unlock()

	tq := target.Query()
	tq.Set("code", c)
	if st := q.Get("state"); st != "" {
		tq.Set("state", st)
	}
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// token is POST /oauth/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.countRejected()
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "", []string{"body must be application/x-www-form-urlencoded"}))
		return
	}
	f := r.PostForm
	grantType := f.Get("grant_type")

	s.mu.Lock()
	defer s.mu.Unlock()
	switch grantType {
	case "authorization_code":
		s.stats.AuthorizationCode++
	case "refresh_token":
		s.stats.RefreshToken++
	default:
		s.stats.OtherGrant++
	}
	if s.faults > 0 {
		s.faults--
		s.stats.Rejected++
		writeJSON(w, s.faultStatus, errBody(s.faultStatus, "", http.StatusText(s.faultStatus)))
		return
	}
	if missing := missingFields(f, "client_id", "client_secret", "grant_type"); len(missing) > 0 {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "", missing))
		return
	}
	if f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnauthorized, errBody(401, "invalid_client", "Invalid client credentials"))
		return
	}
	userType := f.Get("user_type")
	if userType == "" {
		userType = "Location"
	}
	if userType != "Location" && userType != "Company" {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "", []string{"user_type must be one of the following values: Company, Location"}))
		return
	}

	var g grant
	switch grantType {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		if !ok || c.used || !s.now().Before(c.expires) || c.redirectURI != f.Get("redirect_uri") {
			s.stats.Rejected++
			writeJSON(w, http.StatusBadRequest, errBody(400, "invalid_grant", "Invalid grant: authorization code is invalid"))
			return
		}
		c.used = true
		g = grant{userType: userType, companyID: s.opts.CompanyID, scopes: s.opts.Scopes}
		if userType == "Location" {
			g.locationID = s.opts.LocationID
		}
	case "refresh_token":
		old, ok := s.refresh[f.Get("refresh_token")]
		if !ok || old.used || old.revoked || !s.now().Before(old.expires) || old.userType != userType {
			s.stats.Rejected++
			writeJSON(w, http.StatusUnauthorized, errBody(401, "invalid_grant", "Invalid grant: refresh token is invalid"))
			return
		}
		// Strict rotation: the old refresh token is spent from now on.
		old.used = true
		g = *old
		g.used = false
	default:
		s.stats.Rejected++
		writeJSON(w, http.StatusBadRequest, errBody(400, "unsupported_grant_type", "grant_type is not supported"))
		return
	}

	at, rt := s.newToken("emu-at-"), s.newToken("emu-rt-")
	a, rf := g, g
	a.expires = s.now().Add(s.ttl)
	rf.expires = s.now().Add(s.opts.RefreshTTL)
	s.access[at], s.refresh[rt] = &a, &rf
	body := map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(s.ttl / time.Second),
		"refresh_token": rt, "scope": strings.Join(g.scopes, " "), "userType": g.userType,
		"companyId": g.companyID, "userId": s.opts.UserID, "isBulkInstallation": false,
	}
	if g.userType == "Location" {
		body["locationId"] = g.locationID
	} else {
		body["approvedLocations"] = s.approved()
	}
	writeJSON(w, http.StatusOK, body)
}

// locationToken is POST /oauth/locationToken: an agency token buys a
// sub-account token without a refresh token.
func (s *Server) locationToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.LocationToken++
	if s.faults > 0 {
		s.faults--
		s.stats.Rejected++
		writeJSON(w, s.faultStatus, errBody(s.faultStatus, "", http.StatusText(s.faultStatus)))
		return
	}
	if v := r.Header.Get("Version"); v != "2021-07-28" {
		s.stats.Rejected++
		msg := "version header is invalid"
		if v == "" {
			msg = "version header was not found."
		}
		writeJSON(w, http.StatusUnauthorized, errBody(401, "", msg))
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g, err := s.check(bearer)
	if !ok || err != nil {
		s.stats.Rejected++
		WriteInvalidToken(w)
		return
	}
	if g.userType != "Company" {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnauthorized, errBody(401, "", "The token is not authorized for this scope."))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "", []string{"body must be application/x-www-form-urlencoded"}))
		return
	}
	if missing := missingFields(r.PostForm, "companyId", "locationId"); len(missing) > 0 {
		s.stats.Rejected++
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "", missing))
		return
	}
	loc := r.PostForm.Get("locationId")
	if r.PostForm.Get("companyId") != g.companyID || !slices.Contains(s.approved(), loc) {
		s.stats.Rejected++
		writeJSON(w, http.StatusBadRequest, errBody(400, "", "Location not found or app not installed on it"))
		return
	}
	at := s.newToken("emu-lt-")
	s.access[at] = &grant{locationID: loc, companyID: g.companyID, userType: "Location",
		scopes: g.scopes, expires: s.now().Add(s.ttl)}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(s.ttl / time.Second),
		"scope": strings.Join(g.scopes, " "), "locationId": loc, "userId": s.opts.UserID,
	})
}

// approved lists the locations an agency token may mint for.
func (s *Server) approved() []string {
	out := slices.Clone(s.opts.ApprovedLocations)
	if s.opts.LocationID != "" && !slices.Contains(out, s.opts.LocationID) {
		out = append([]string{s.opts.LocationID}, out...)
	}
	return out
}

func (s *Server) countRejected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Rejected++
}

func missingFields(f url.Values, names ...string) []string {
	var out []string
	for _, n := range names {
		if f.Get(n) == "" {
			out = append(out, n+" should not be empty")
		}
	}
	return out
}

// errBody is GHL's common error shape, with the RFC 6749 "error" code when
// there is one. message is a string, or a list for 422.
func errBody(status int, code string, message any) map[string]any {
	b := map[string]any{"statusCode": status, "message": message}
	if code != "" {
		b["error"] = code
		if s, ok := message.(string); ok {
			b["error_description"] = s
		}
	} else if t := http.StatusText(status); t != "" && status >= 400 {
		b["error"] = t
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
