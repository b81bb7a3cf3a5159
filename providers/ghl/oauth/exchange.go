package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/secret"
)

// maxTokenBody bounds a token endpoint answer; real ones are under 2 KiB.
const maxTokenBody = 1 << 20

// tokenResponse is GetAccessCodeSuccessfulResponseDto and
// GetLocationAccessTokenSuccessfulResponseDto of apps/oauth.json.
type tokenResponse struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    float64 `json:"expires_in"`
	RefreshToken string  `json:"refresh_token"`
	Scope        string  `json:"scope"`
	UserType     string  `json:"userType"`
	LocationID   string  `json:"locationId"`
	CompanyID    string  `json:"companyId"`
	UserID       string  `json:"userId"`
}

// token converts r to a Token, filling what r leaves out from prev (a
// refresh answer may omit scope or ids). issued is when the request was
// sent, so the expiry errs early rather than late.
func (r tokenResponse) token(issued time.Time, prev Token) Token {
	t := prev
	t.AccessToken = secret.New(r.AccessToken)
	if r.RefreshToken != "" {
		t.RefreshToken = secret.New(r.RefreshToken)
	}
	t.Expiry, t.Issued = time.Time{}, issued
	if r.ExpiresIn > 0 {
		t.Expiry = issued.Add(time.Duration(r.ExpiresIn * float64(time.Second)))
	}
	if r.Scope != "" {
		t.Scopes = strings.Fields(r.Scope)
	}
	if r.UserType != "" {
		t.UserType = r.UserType
	}
	if r.LocationID != "" {
		t.LocationID = r.LocationID
	}
	if r.CompanyID != "" {
		t.CompanyID = r.CompanyID
	}
	return t
}

// post sends one token endpoint request. It never retries: a refresh that
// reached the server has already spent the old refresh token, so only the
// caller, after checking the store, may decide to try again.
func post(ctx context.Context, cfg Config, op, endpoint string, form url.Values, bearer secret.String, sent []secret.String) (tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, fmt.Errorf("oauth: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if !bearer.IsZero() {
		req.Header.Set("Authorization", "Bearer "+bearer.Reveal())
		req.Header.Set("Version", apiVersion)
	}
	res, err := cfg.client().Do(req)
	if err != nil {
		// The URL carries no credentials (they are all in the body), so
		// the transport error is safe to show.
		return tokenResponse{}, &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: op, Err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenBody))
	if err != nil {
		return tokenResponse{}, &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: op, Status: res.StatusCode, Err: err}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return tokenResponse{}, classify(cfg, op, res, body, append(sent, bearer))
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		// Unreadable counts as no token, whatever fields did decode.
		tr = tokenResponse{}
	}
	return tr, tr.check(op, res.StatusCode)
}

// check rejects a successful answer that carries no usable token.
func (r tokenResponse) check(op string, status int) error {
	if r.AccessToken == "" {
		return &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: op,
			Status: status, Message: "token response has no access_token"}
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") {
		return &providers.Error{Category: providers.ErrTerminal, Provider: "ghl", Op: op,
			Status: status, Message: fmt.Sprintf("unsupported token_type %q", r.TokenType)}
	}
	return nil
}

// fromOAuth2 reads an x/oauth2 answer, GHL's extra fields included. The
// expiry is computed by the caller from expires_in and cfg's clock, not
// taken from x/oauth2, which uses time.Now.
func fromOAuth2(t *oauth2.Token) tokenResponse {
	extra := func(key string) string {
		s, _ := t.Extra(key).(string)
		return s
	}
	return tokenResponse{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		ExpiresIn:    float64(t.ExpiresIn),
		RefreshToken: t.RefreshToken,
		Scope:        extra("scope"),
		UserType:     extra("userType"),
		LocationID:   extra("locationId"),
		CompanyID:    extra("companyId"),
		UserID:       extra("userId"),
	}
}

// oauth2Error turns an x/oauth2 failure into the errors post returns. An
// unsuccessful answer ([*oauth2.RetrieveError], which keeps the response
// and its body) is classified like any other; sent is scrubbed from it.
// Anything else is the request not getting through (the client's
// *url.Error, which names only the URL: the credentials are in the body)
// or an answer x/oauth2 could not read, and is worth retrying. Its own
// message for a RetrieveError is never used, as it quotes the whole body.
func oauth2Error(cfg Config, op string, err error, sent []secret.String) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		// Also a 2xx answer with an "error" field, which x/oauth2 treats
		// as a failure; classify goes by that field then.
		return classify(cfg, op, re.Response, re.Body, sent)
	}
	return &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: op, Err: err}
}

// grantForm is the part of the /oauth/token body every grant shares
// (GetAccessCodebodyDto). Only the refresh grant still posts it by hand;
// see refresh.
func grantForm(cfg Config, grant string) url.Values {
	f := url.Values{}
	f.Set("client_id", cfg.ClientID)
	f.Set("client_secret", cfg.ClientSecret.Reveal())
	f.Set("grant_type", grant)
	f.Set("user_type", cfg.userType())
	if cfg.RedirectURI != "" {
		f.Set("redirect_uri", cfg.RedirectURI)
	}
	return f
}

// Exchange trades an authorization code for a token. Most callers want
// [Authorize], which obtains the code too.
//
// The request goes through golang.org/x/oauth2 (client credentials in the
// body, plus GHL's user_type), sent with cfg's HTTP client. GHL's extra
// answer fields (scope, userType, locationId, companyId) are read from
// the token's Extra.
func Exchange(ctx context.Context, cfg Config, code string) (Token, error) {
	if err := cfg.Validate(); err != nil {
		return Token{}, err
	}
	const op = "exchange code"
	ctx = context.WithValue(ctx, oauth2.HTTPClient, cfg.client())
	issued := cfg.now()
	ot, err := cfg.oauth2Config().Exchange(ctx, code, oauth2.SetAuthURLParam("user_type", cfg.userType()))
	if err != nil {
		return Token{}, oauth2Error(cfg, op, err, []secret.String{cfg.ClientSecret, secret.New(code)})
	}
	tr := fromOAuth2(ot)
	if err := tr.check(op, http.StatusOK); err != nil {
		return Token{}, err
	}
	return tr.token(issued, Token{UserType: cfg.userType(), CompanyID: cfg.CompanyID}), nil
}

// refresh spends t's refresh token for a new pair.
//
// This grant is posted by hand rather than through golang.org/x/oauth2.
// x/oauth2's refresh (Config.TokenSource) sends only grant_type and
// refresh_token and takes no extra fields, but GHL's token request names
// the type of token wanted in user_type for every grant (apps/oauth.json).
// Without it an agency (Company) refresh asks for a Location token, which
// the emulator refuses with invalid_grant (TestLocationSource fails that
// way), and that reads as a revoked grant: the sync would stop until
// someone reconnects. Sending the refresh through Exchange with grant_type
// overridden would add an empty code field, which GHL does not document
// for this grant.
func refresh(ctx context.Context, cfg Config, t Token) (Token, error) {
	f := grantForm(cfg, "refresh_token")
	f.Set("refresh_token", t.RefreshToken.Reveal())
	if t.UserType != "" {
		f.Set("user_type", t.UserType)
	}
	issued := cfg.now()
	tr, err := post(ctx, cfg, "refresh token", cfg.tokenURL(), f, secret.String{}, []secret.String{cfg.ClientSecret, t.RefreshToken})
	if err != nil {
		return Token{}, err
	}
	return tr.token(issued, t), nil
}

// LocationToken mints a sub-account token for locationID from an agency
// (Company) token, through POST /oauth/locationToken. The result has no
// refresh token: mint another when it expires ([NewLocationSource] does).
// The company is agency.CompanyID, or cfg.CompanyID when that is empty.
func LocationToken(ctx context.Context, cfg Config, agency Token, locationID string) (Token, error) {
	if err := cfg.Validate(); err != nil {
		return Token{}, err
	}
	company := agency.CompanyID
	if company == "" {
		company = cfg.CompanyID
	}
	if company == "" || locationID == "" {
		return Token{}, fmt.Errorf("oauth: mint location token: need both a company id and a location id")
	}
	f := url.Values{}
	f.Set("companyId", company)
	f.Set("locationId", locationID)
	issued := cfg.now()
	tr, err := post(ctx, cfg, "mint location token", cfg.locationTokenURL(), f, agency.AccessToken, nil)
	if err != nil {
		return Token{}, err
	}
	if tr.LocationID != "" && tr.LocationID != locationID {
		return Token{}, fmt.Errorf("oauth: mint location token: asked for location %s, got one for %s", locationID, tr.LocationID)
	}
	t := tr.token(issued, Token{LocationID: locationID, CompanyID: company, UserType: UserLocation})
	// A minted token is never refreshed, whatever the answer says.
	t.RefreshToken = secret.String{}
	return t, nil
}
