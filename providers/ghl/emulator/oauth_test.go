package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
)

const oauthRedirect = "http://127.0.0.1:8765/callback"

// oauthEnv is an API emulator in OAuth mode with the OAuth emulator
// mounted on the same base URL.
type oauthEnv struct {
	*env
	o *oauthemu.Server
}

func newOAuthEnv(t *testing.T, scopes []string) *oauthEnv {
	t.Helper()
	clock := newClock()
	o := oauthemu.New(oauthemu.Options{ClientID: "cid", ClientSecret: "csecret", LocationID: DefaultLocationID,
		CompanyID: "comp", Scopes: scopes, AccessTTL: time.Hour, Now: clock.Now})
	e := newEnv(t, Options{Authenticate: OAuthAuthenticate(o), Now: clock.Now})
	e.clock = clock
	e.s.MountOAuth(o)
	return &oauthEnv{env: e, o: o}
}

// issue runs consent and the code exchange over HTTP and returns the
// access token.
func (e *oauthEnv) issue(userType string) string {
	e.t.Helper()
	hc := e.hs.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {oauthRedirect}}
	res, err := hc.Get(e.hs.URL + "/v2/oauth/chooselocation?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		e.t.Fatalf("consent: status %d, no redirect: %v", res.StatusCode, err)
	}
	form := url.Values{"client_id": {"cid"}, "client_secret": {"csecret"}, "grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {oauthRedirect}, "user_type": {userType}}
	res, err = hc.PostForm(e.hs.URL+"/oauth/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		e.t.Fatalf("token exchange: status %d, %v", res.StatusCode, err)
	}
	return tr.AccessToken
}

// call sends one API request with bearer and returns status and body.
func (e *oauthEnv) call(method, path, bearer, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Version", APIVersion)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

func TestOAuthMode(t *testing.T) {
	// GHL documents only the messages (NOTES §3), so only they are
	// compared.
	const (
		invalid = "Invalid token: access token is invalid"
		scope   = "The token is not authorized for this scope."
		search  = `{"locationId":"` + DefaultLocationID + `","pageLimit":1}`
	)
	type result struct {
		Status  int
		Message string
	}
	tests := []struct {
		name   string
		scopes []string
		// token picks the bearer: "location", "company", "expired",
		// "revoked", "none" or a literal.
		token        string
		method, path string
		body         string
		want         result
	}{
		{"granted scope", []string{"contacts.readonly"}, "location", "POST", "/contacts/search", search,
			result{200, ""}},
		{"write does not imply read", []string{"contacts.write"}, "location", "POST", "/contacts/search", search,
			result{401, scope}},
		{"read does not allow writes", []string{"contacts.readonly"}, "location", "POST", "/contacts/",
			`{"locationId":"` + DefaultLocationID + `","email":"a@example.com"}`, result{401, scope}},
		{"location needs locations.readonly", []string{"contacts.readonly"}, "location", "GET",
			"/locations/" + DefaultLocationID, "", result{401, scope}},
		{"agency token on a sub-account route", []string{"contacts.readonly"}, "company", "POST", "/contacts/search",
			search, result{401, scope}},
		{"expired token", []string{"contacts.readonly"}, "expired", "POST", "/contacts/search", search,
			result{401, invalid}},
		{"revoked token", []string{"contacts.readonly"}, "revoked", "POST", "/contacts/search", search,
			result{401, invalid}},
		{"static emulator token is refused", []string{"contacts.readonly"}, DefaultToken, "POST", "/contacts/search",
			search, result{401, invalid}},
		{"no token", []string{"contacts.readonly"}, "none", "POST", "/contacts/search", search, result{401, invalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newOAuthEnv(t, tt.scopes)
			var bearer string
			switch tt.token {
			case "location":
				bearer = e.issue("Location")
			case "company":
				bearer = e.issue("Company")
			case "expired":
				bearer = e.issue("Location")
				e.clock.Advance(time.Hour)
			case "revoked":
				bearer = e.issue("Location")
				e.o.Revoke(DefaultLocationID)
			case "none":
			default:
				bearer = tt.token
			}
			status, body := e.call(tt.method, tt.path, bearer, tt.body)
			got := result{Status: status}
			if status != 200 {
				var eb struct {
					Message string `json:"message"`
				}
				if err := json.Unmarshal([]byte(body), &eb); err != nil {
					t.Fatalf("error body is not JSON: %q", body)
				}
				got.Message = eb.Message
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("response (-want +got):\n%s", d)
			}
		})
	}
}

func TestOAuthEndpointsSkipThePipeline(t *testing.T) {
	e := newOAuthEnv(t, []string{"contacts.readonly"})
	// The token endpoint takes no Version header or bearer, like GHL's.
	res, err := http.PostForm(e.hs.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"client_id": {"cid"}, "client_secret": {"wrong"}, "refresh_token": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong client secret: status %d, want 401", res.StatusCode)
	}
	if got := e.o.Stats().RefreshToken; got != 1 {
		t.Errorf("refresh calls = %d, want 1", got)
	}
	if got := e.s.Stats().Total; got != 0 {
		t.Errorf("API pipeline counted %d requests for the token endpoint, want 0", got)
	}
}
