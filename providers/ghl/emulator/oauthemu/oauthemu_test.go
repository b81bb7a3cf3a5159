package oauthemu_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
)

const redirect = "http://127.0.0.1:8765/callback"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	emu   *oauthemu.Server
	srv   *httptest.Server
	clock *clock
	hc    *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	emu := oauthemu.New(oauthemu.Options{
		ClientID: "cid", ClientSecret: "csecret", RedirectURI: redirect,
		LocationID: "loc", CompanyID: "comp", Scopes: []string{"contacts.readonly"},
		AccessTTL: time.Hour, Now: c.Now,
	})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fixture{emu: emu, srv: srv, clock: c, hc: hc}
}

// consent visits the consent page and returns the status and redirect.
func (f *fixture) consent(t *testing.T, q url.Values) (int, *url.URL) {
	t.Helper()
	res, err := f.hc.Get(f.srv.URL + "/v2/oauth/chooselocation?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	return res.StatusCode, loc
}

func (f *fixture) code(t *testing.T) string {
	t.Helper()
	status, loc := f.consent(t, url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {redirect}, "state": {"s1"}})
	if status != http.StatusFound || loc.Query().Get("state") != "s1" {
		t.Fatalf("consent: %d %v", status, loc)
	}
	return loc.Query().Get("code")
}

func (f *fixture) post(t *testing.T, path string, form url.Values, header http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: body %q is not JSON", path, b)
	}
	return res.StatusCode, body
}

func grant(kind, value string, extra ...string) url.Values {
	v := url.Values{"client_id": {"cid"}, "client_secret": {"csecret"}, "grant_type": {kind},
		"user_type": {"Location"}, "redirect_uri": {redirect}}
	if kind == "authorization_code" {
		v.Set("code", value)
	} else {
		v.Set("refresh_token", value)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func TestConsentRejects(t *testing.T) {
	f := newFixture(t)
	ok := url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {redirect}}
	tests := []struct {
		name string
		edit func(url.Values)
		want int
	}{
		{"ok", func(url.Values) {}, http.StatusFound},
		{"unknown client", func(q url.Values) { q.Set("client_id", "nope") }, http.StatusBadRequest},
		{"redirect mismatch", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/evil") }, http.StatusBadRequest},
		{"wrong response type", func(q url.Values) { q.Set("response_type", "token") }, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range ok {
				q[k] = v
			}
			tc.edit(q)
			if got, _ := f.consent(t, q); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTokenGrants(t *testing.T) {
	f := newFixture(t)
	code := f.code(t)

	status, body := f.post(t, "/oauth/token", grant("authorization_code", code), nil)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	for _, k := range []string{"access_token", "token_type", "expires_in", "refresh_token", "scope", "userType", "locationId", "companyId", "userId"} {
		if _, ok := body[k]; !ok {
			t.Errorf("exchange response lacks %s", k)
		}
	}
	if diff := cmp.Diff([]any{"Bearer", 3600.0, "Location", "loc"}, []any{body["token_type"], body["expires_in"], body["userType"], body["locationId"]}); diff != "" {
		t.Errorf("exchange response (-want +got):\n%s", diff)
	}
	rt := body["refresh_token"].(string)
	at := body["access_token"].(string)

	tests := []struct {
		name      string
		form      url.Values
		want      int
		wantError string
	}{
		{"code reused", grant("authorization_code", code), 400, "invalid_grant"},
		{"wrong secret", grant("refresh_token", rt, "client_secret", "bad"), 401, "invalid_client"},
		{"unknown client", grant("refresh_token", rt, "client_id", "other"), 401, "invalid_client"},
		{"refresh", grant("refresh_token", rt), 200, ""},
		{"refresh token reused", grant("refresh_token", rt), 401, "invalid_grant"},
		{"missing secret", grant("refresh_token", rt, "client_secret", ""), 422, "Unprocessable Entity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(t, "/oauth/token", tc.form, nil)
			if status != tc.want || (tc.wantError != "" && body["error"] != tc.wantError) {
				t.Errorf("status %d body %v, want %d with error %q", status, body, tc.want, tc.wantError)
			}
			if status >= 400 && body["statusCode"] != float64(status) {
				t.Errorf("error body lacks statusCode: %v", body)
			}
		})
	}
	if diff := cmp.Diff(oauthemu.Stats{Authorize: 1, AuthorizationCode: 2, RefreshToken: 5, Rejected: 5}, f.emu.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	// The old access token stays valid until it expires.
	if _, _, err := f.emu.Validate(at); err != nil {
		t.Errorf("old access token: %v", err)
	}
}

func TestValidate(t *testing.T) {
	f := newFixture(t)
	_, body := f.post(t, "/oauth/token", grant("authorization_code", f.code(t)), nil)
	at := body["access_token"].(string)

	loc, scopes, err := f.emu.Validate(at)
	if err != nil || loc != "loc" || !cmp.Equal(scopes, []string{"contacts.readonly"}) {
		t.Errorf("Validate = %q %v %v", loc, scopes, err)
	}
	if _, _, err := f.emu.Validate("nope"); !errors.Is(err, oauthemu.ErrUnknownToken) {
		t.Errorf("unknown token: %v", err)
	}
	f.clock.Advance(time.Hour)
	if _, _, err := f.emu.Validate(at); !errors.Is(err, oauthemu.ErrExpiredToken) {
		t.Errorf("expired token: %v", err)
	}

	_, body = f.post(t, "/oauth/token", grant("refresh_token", body["refresh_token"].(string)), nil)
	f.emu.Revoke("loc")
	if _, _, err := f.emu.Validate(body["access_token"].(string)); !errors.Is(err, oauthemu.ErrRevokedToken) {
		t.Errorf("revoked token: %v", err)
	}
	if status, b := f.post(t, "/oauth/token", grant("refresh_token", body["refresh_token"].(string)), nil); status != 401 || b["error"] != "invalid_grant" {
		t.Errorf("refresh after uninstall: %d %v", status, b)
	}

	rec := httptest.NewRecorder()
	oauthemu.WriteAuthError(rec, oauthemu.ErrExpiredToken)
	if got := rec.Body.String(); rec.Code != 401 || !strings.Contains(got, `"message":"Invalid token: access token is invalid"`) {
		t.Errorf("WriteAuthError = %d %s", rec.Code, got)
	}
}

func TestRequireScope(t *testing.T) {
	tests := []struct {
		scope  string
		want   bool
		status int
	}{
		{"contacts.readonly", true, 200},
		{"", true, 200},
		{"contacts.write", false, 401},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		if got := oauthemu.RequireScope(rec, []string{"contacts.readonly"}, tc.scope); got != tc.want || rec.Code != tc.status {
			t.Errorf("RequireScope(%q) = %v, %d; want %v, %d", tc.scope, got, rec.Code, tc.want, tc.status)
		}
		if !tc.want {
			want := `{"statusCode":401,"message":"The token is not authorized for this scope."}`
			if got := strings.TrimSpace(rec.Body.String()); got != want {
				t.Errorf("body %s, want %s", got, want)
			}
		}
	}
	for route, scope := range oauthemu.RouteScopes {
		if scope == "" || !strings.Contains(route, " /") {
			t.Errorf("RouteScopes[%q] = %q is malformed", route, scope)
		}
	}
}

func TestLocationTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	_, body := f.post(t, "/oauth/token", grant("authorization_code", f.code(t), "user_type", "Company"), nil)
	if body["userType"] != "Company" || body["locationId"] != nil {
		t.Fatalf("company exchange: %v", body)
	}
	agency := body["access_token"].(string)
	auth := http.Header{"Authorization": {"Bearer " + agency}, "Version": {"2021-07-28"}}
	form := url.Values{"companyId": {"comp"}, "locationId": {"loc"}}

	tests := []struct {
		name   string
		form   url.Values
		header http.Header
		want   int
	}{
		{"ok", form, auth, 200},
		{"no version", form, http.Header{"Authorization": auth["Authorization"]}, 401},
		{"bad token", form, http.Header{"Authorization": {"Bearer nope"}, "Version": {"2021-07-28"}}, 401},
		{"unapproved location", url.Values{"companyId": {"comp"}, "locationId": {"other"}}, auth, 400},
		{"missing field", url.Values{"companyId": {"comp"}}, auth, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(t, "/oauth/locationToken", tc.form, tc.header)
			if status != tc.want {
				t.Fatalf("status %d %v, want %d", status, body, tc.want)
			}
			if status == 200 {
				if _, ok := body["refresh_token"]; ok {
					t.Errorf("location token carries a refresh token")
				}
				if loc, _, err := f.emu.Validate(body["access_token"].(string)); err != nil || loc != "loc" {
					t.Errorf("minted token: %q %v", loc, err)
				}
			}
		})
	}
}
