package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

const testCode = "code-abc-123"

// tokenServer answers every token request with status, header and body,
// and records the last request's form and headers.
type tokenServer struct {
	srv *httptest.Server

	mu     sync.Mutex
	form   url.Values
	header http.Header
	calls  int
}

func newTokenServer(t *testing.T, status int, header http.Header, body string) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.form, ts.header = r.PostForm, r.Header.Clone()
		ts.calls++
		ts.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) config(c *clock) oauth.Config {
	return oauth.Config{
		ClientID: testClientID, ClientSecret: secret.New(testSecret),
		RedirectURI: "http://127.0.0.1:8765/callback", UserType: oauth.UserCompany, CompanyID: testCompany,
		AuthURL: ts.srv.URL + "/auth", TokenURL: ts.srv.URL + "/oauth/token",
		HTTPClient: ts.srv.Client(), Now: c.Now,
	}
}

// TestExchangeRequestAndExtraFields checks what the x/oauth2 exchange
// sends and that GHL's extra answer fields, and the expiry by our clock,
// reach the Token.
func TestExchangeRequestAndExtraFields(t *testing.T) {
	c := newClock()
	ts := newTokenServer(t, http.StatusOK, nil, `{"access_token":"at-1","token_type":"Bearer","expires_in":86399,
		"refresh_token":"rt-1","scope":"contacts.readonly contacts.write","userType":"Company",
		"companyId":"comp-1","userId":"u-1","approvedLocations":["loc-1"]}`)
	cfg := ts.config(c)
	// The configured client must be the one used: count its round trips.
	var trips int
	var mu sync.Mutex
	base := cfg.HTTPClient.Transport
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		trips++
		mu.Unlock()
		return base.RoundTrip(r)
	})}

	tok, err := oauth.Exchange(context.Background(), cfg, testCode)
	if err != nil {
		t.Fatal(err)
	}
	wantForm := url.Values{
		"client_id": {testClientID}, "client_secret": {testSecret}, "grant_type": {"authorization_code"},
		"code": {testCode}, "redirect_uri": {cfg.RedirectURI}, "user_type": {oauth.UserCompany},
	}
	if diff := cmp.Diff(wantForm, ts.form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
	if h := ts.header.Get("Authorization"); h != "" {
		t.Errorf("Authorization header %q sent; the credentials belong in the body", h)
	}
	if trips != 1 || ts.calls != 1 {
		t.Errorf("%d round trips through the configured client, %d requests seen; want 1 and 1", trips, ts.calls)
	}
	got := struct {
		Access, Refresh, UserType, Company, Location string
		Scopes                                       []string
		Expiry, Issued                               time.Time
	}{tok.AccessToken.Reveal(), tok.RefreshToken.Reveal(), tok.UserType, tok.CompanyID, tok.LocationID, tok.Scopes, tok.Expiry, tok.Issued}
	want := got
	want.Access, want.Refresh, want.UserType, want.Company, want.Location = "at-1", "rt-1", oauth.UserCompany, testCompany, ""
	want.Scopes = []string{"contacts.readonly", "contacts.write"}
	want.Issued, want.Expiry = c.Now(), c.Now().Add(86399*time.Second)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestExchangeErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantMsg   string
		wantIs    error
		retryable bool
	}{
		{
			name:    "code rejected",
			status:  http.StatusBadRequest,
			body:    `{"statusCode":400,"error":"invalid_grant","message":"Invalid grant: code ` + testCode + ` is invalid"}`,
			wantMsg: "ghl: exchange code: HTTP 400: Invalid grant: code (sensitive) is invalid",
			wantIs:  providers.ErrAuth,
		},
		{
			name:    "wrong secret",
			status:  http.StatusUnauthorized,
			body:    `{"statusCode":401,"error":"invalid_client","message":"Invalid client credentials"}`,
			wantMsg: `client authentication failed for client_id "client-123"; check client_secret`,
			wantIs:  providers.ErrAuth,
		},
		{
			name:      "outage",
			status:    http.StatusBadGateway,
			body:      `<html>bad gateway</html>`,
			wantMsg:   "ghl: exchange code: HTTP 502",
			wantIs:    providers.ErrTransient,
			retryable: true,
		},
		{
			name:      "rate limited",
			status:    http.StatusTooManyRequests,
			header:    http.Header{"Retry-After": {"7"}},
			body:      `{"statusCode":429,"message":"Too Many Requests"}`,
			wantMsg:   "HTTP 429: Too Many Requests",
			wantIs:    providers.ErrRateLimited,
			retryable: true,
		},
		{
			name:      "no access token",
			status:    http.StatusOK,
			body:      `{"token_type":"Bearer"}`,
			wantMsg:   "missing access_token",
			wantIs:    providers.ErrTransient,
			retryable: true,
		},
		{
			name:    "error in a 200 answer",
			status:  http.StatusOK,
			body:    `{"error":"invalid_grant","error_description":"code expired"}`,
			wantMsg: "code expired",
			wantIs:  providers.ErrAuth,
		},
		{
			name:    "unsupported token type",
			status:  http.StatusOK,
			body:    `{"access_token":"at","token_type":"mac"}`,
			wantMsg: `unsupported token_type "mac"`,
			wantIs:  providers.ErrTerminal,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t, tc.status, tc.header, tc.body)
			_, err := oauth.Exchange(context.Background(), ts.config(newClock()), testCode)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Exchange error = %v, want one containing %q", err, tc.wantMsg)
			}
			if !errors.Is(err, tc.wantIs) || providers.Retryable(err) != tc.retryable {
				t.Errorf("errors.Is(err, %v) = %v, Retryable = %v; want true, %v", tc.wantIs, errors.Is(err, tc.wantIs), providers.Retryable(err), tc.retryable)
			}
			if errors.Is(err, oauth.ErrReauthorize) {
				t.Errorf("an exchange failure must not ask to reauthorize a grant that never existed: %v", err)
			}
			checkNoLeak(t, []string{testSecret, testCode}, map[string]string{"error": err.Error()})
			if ts.calls != 1 {
				t.Errorf("%d requests, want exactly 1 (no retry, no auth style probe)", ts.calls)
			}
		})
	}
}

func TestExchangeNetworkFailure(t *testing.T) {
	ts := newTokenServer(t, http.StatusOK, nil, `{}`)
	cfg := ts.config(newClock())
	ts.srv.Close()
	_, err := oauth.Exchange(context.Background(), cfg, testCode)
	if !providers.Retryable(err) || !errors.Is(err, providers.ErrTransient) {
		t.Errorf("Exchange with the server down: %v, want a transient error", err)
	}
}

func TestAuthorizeURLKeepsAuthURLQuery(t *testing.T) {
	cfg := oauth.Config{ClientID: "abc", RedirectURI: "http://127.0.0.1:8765/callback",
		AuthURL: "https://127.0.0.1:9/v2/oauth/chooselocation?loginWindowOpenMode=self&client_id=stale&note=a%2Bb",
		Scopes:  []string{"contacts.readonly", "contacts.write"}}
	raw := cfg.AuthorizeURL("")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"response_type": {"code"}, "client_id": {"abc"}, "loginWindowOpenMode": {"self"}, "note": {"a+b"},
		"redirect_uri": {"http://127.0.0.1:8765/callback"}, "scope": {"contacts.readonly contacts.write"},
	}
	if diff := cmp.Diff(want, u.Query()); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://127.0.0.1:9/v2/oauth/chooselocation" {
		t.Errorf("endpoint = %q", got)
	}
}
