package zap

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Header names a Zap authenticates with.
const (
	HeaderSecret    = "X-Bellsync-Secret"
	HeaderSignature = "X-Bellsync-Signature"
)

const signaturePrefix = "sha256="

// Sentinels for rejected requests; errors from [Verify] and [Parse]
// wrap exactly one of them.
var (
	ErrUnsigned  = errors.New("unsigned request")
	ErrBadSecret = errors.New("secret or signature does not match")
	ErrMalformed = errors.New("malformed event")
)

// Verify checks that the request carries the shared secret, either as
// an HMAC of body or verbatim. body must be the exact bytes received. An
// empty secret is a configuration error and never matches.
func Verify(h http.Header, body []byte, secret string) error {
	if secret == "" {
		return errors.New("zap: no shared secret configured")
	}
	if vals := h.Values(HeaderSignature); len(vals) > 0 {
		if len(vals) != 1 {
			return fmt.Errorf("zap: %w: %d %s headers", ErrBadSecret, len(vals), HeaderSignature)
		}
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(vals[0]), signaturePrefix)
		if !ok {
			return fmt.Errorf("zap: %w: %s must start with %q", ErrBadSecret, HeaderSignature, signaturePrefix)
		}
		sig, err := hex.DecodeString(hexSig)
		if err != nil {
			return fmt.Errorf("zap: %w: %s is not hex", ErrBadSecret, HeaderSignature)
		}
		if !hmac.Equal(sig, mac(body, secret)) {
			return fmt.Errorf("zap: %w: %s", ErrBadSecret, HeaderSignature)
		}
		return nil
	}

	if vals := h.Values(HeaderSecret); len(vals) > 0 {
		if len(vals) != 1 {
			return fmt.Errorf("zap: %w: %d %s headers", ErrBadSecret, len(vals), HeaderSecret)
		}
		// Comparing digests rather than the strings themselves keeps the
		// comparison's duration independent of the secret's length too.
		got := sha256.Sum256([]byte(strings.TrimSpace(vals[0])))
		want := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fmt.Errorf("zap: %w: %s", ErrBadSecret, HeaderSecret)
		}
		return nil
	}
	return fmt.Errorf("zap: %w: no %s or %s header", ErrUnsigned, HeaderSecret, HeaderSignature)
}

// Signature returns the X-Bellsync-Signature value for body, for tests,
// the emulator and documentation of what a Code step must compute.
func Signature(body []byte, secret string) string {
	return signaturePrefix + hex.EncodeToString(mac(body, secret))
}

func mac(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}
