package oauth

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/bellsync/bellsync/providers/secret"
)

// Token is a stored GHL grant. RefreshToken is empty for location tokens
// minted from an agency token, which are re-minted instead of refreshed.
type Token struct {
	AccessToken  secret.String
	RefreshToken secret.String
	// Expiry is when AccessToken stops working; zero means unknown.
	Expiry time.Time
	// Issued is when the token was requested; zero means unknown (tokens
	// stored before it was recorded). With Expiry it gives the lifetime.
	Issued time.Time
	// Scopes are the scopes GHL granted, which may be fewer than asked.
	Scopes     []string
	LocationID string
	CompanyID  string
	UserType   string
}

// storedToken is the storage form. It is the one place raw token values
// are written, which is why Token itself has no JSON tags.
type storedToken struct {
	Version      int       `json:"version"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Issued       time.Time `json:"issued,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	LocationID   string    `json:"location_id,omitempty"`
	CompanyID    string    `json:"company_id,omitempty"`
	UserType     string    `json:"user_type,omitempty"`
}

const storedVersion = 1

// Marshal encodes t for a [providers.TokenStore]. The result holds the raw
// tokens: write it only to storage that is private to the user.
func (t Token) Marshal() ([]byte, error) {
	return json.Marshal(storedToken{
		Version:      storedVersion,
		AccessToken:  t.AccessToken.Reveal(),
		RefreshToken: t.RefreshToken.Reveal(),
		Expiry:       t.Expiry.UTC(),
		Issued:       t.Issued.UTC(),
		Scopes:       t.Scopes,
		LocationID:   t.LocationID,
		CompanyID:    t.CompanyID,
		UserType:     t.UserType,
	})
}

// Unmarshal decodes what [Token.Marshal] wrote.
func Unmarshal(data []byte) (Token, error) {
	var s storedToken
	if err := json.Unmarshal(data, &s); err != nil {
		// The json error quotes no input beyond offsets, so no token leaks.
		return Token{}, fmt.Errorf("oauth: decode stored token: %w", err)
	}
	if s.Version != storedVersion {
		return Token{}, fmt.Errorf("oauth: stored token has version %d, want %d", s.Version, storedVersion)
	}
	if s.AccessToken == "" && s.RefreshToken == "" {
		return Token{}, fmt.Errorf("oauth: stored token is empty")
	}
	return Token{
		AccessToken:  secret.New(s.AccessToken),
		RefreshToken: secret.New(s.RefreshToken),
		Expiry:       s.Expiry,
		Issued:       s.Issued,
		Scopes:       s.Scopes,
		LocationID:   s.LocationID,
		CompanyID:    s.CompanyID,
		UserType:     s.UserType,
	}, nil
}

// Valid reports whether the access token is present and will not expire
// within skew of now.
func (t Token) Valid(now time.Time, skew time.Duration) bool {
	if t.AccessToken.IsZero() {
		return false
	}
	return t.Expiry.IsZero() || now.Add(skew).Before(t.Expiry)
}

// skewFor is the refresh margin for t: skew, but at most half the token's
// lifetime. A token that lives less than the margin (an emulator with
// -ghl-access-ttl 1m) would otherwise look expired on arrival and be
// refreshed before every request.
func (t Token) skewFor(skew time.Duration) time.Duration {
	if t.Issued.IsZero() || t.Expiry.IsZero() {
		return skew
	}
	if half := t.Expiry.Sub(t.Issued) / 2; half > 0 && half < skew {
		return half
	}
	return skew
}

// Missing returns the scopes of wanted that granted lacks, in wanted's
// order and without repeats. GHL scopes are flat: contacts.write does not
// imply contacts.readonly, so the comparison is exact.
func Missing(granted, wanted []string) []string {
	var out []string
	for _, w := range wanted {
		if !slices.Contains(granted, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}
