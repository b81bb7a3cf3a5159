package webhook

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Header names GHL signs deliveries with. Lookups go through
// http.Header's canonical form, so case does not matter.
const (
	HeaderEd25519 = "X-Ghl-Signature"
	HeaderRSA     = "X-Wh-Signature"
)

// DefaultMaxAge is GHL's own advice for how old a delivery may be
// (NOTES.md §10.3).
const DefaultMaxAge = 5 * time.Minute

// FutureSkew is how far ahead of our clock a timestamp may be. Clocks
// drift a little; a delivery dated further ahead would stay "fresh" for
// longer than MaxAge, widening the replay window.
const FutureSkew = time.Minute

// ReplayStore remembers webhook ids. The daemon backs it with the state
// database so that a restart does not forget; [MemoryStore] serves
// tests and single-process use. Implementations must be safe for
// concurrent use.
type ReplayStore interface {
	// SeenBefore records webhookID as seen at the given time and reports
	// whether it had already been recorded. The check and the record
	// must be one atomic step, or two concurrent deliveries of the same
	// event could both pass. An implementation may forget an id once it
	// is older than MaxAge plus FutureSkew, because by then the delivery
	// is rejected as stale anyway.
	SeenBefore(ctx context.Context, webhookID string, at time.Time) (bool, error)
}

// Verifier checks GHL webhook deliveries. Its zero value verifies
// against GHL's published keys with the default MaxAge, the system clock
// and no replay check. A Verifier is safe for concurrent use if Seen is,
// and must not be changed while in use.
type Verifier struct {
	// Ed25519 verifies x-ghl-signature; nil means [DefaultEd25519Key].
	Ed25519 ed25519.PublicKey
	// RSA verifies x-wh-signature; nil means [DefaultRSAKey].
	RSA *rsa.PublicKey
	// MaxAge is the oldest timestamp accepted; zero or less means
	// DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seen rejects repeated webhook ids. If nil, replays are accepted for
	// as long as they are fresh, which is only acceptable in tests.
	Seen ReplayStore
}

// Verify authenticates a delivery and decodes its envelope. body must be
// the exact bytes received. A rejection is an *[Error]; any other error
// comes from the replay store or a broken key. See the package
// documentation for the order of checks.
func (v *Verifier) Verify(ctx context.Context, h http.Header, body []byte) (Event, error) {
	if err := v.verifySignature(h, body); err != nil {
		return Event{}, err
	}
	ev, err := decode(body)
	if err != nil {
		return Event{}, err
	}

	now := v.now()
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if age := now.Sub(ev.Timestamp); age > maxAge {
		return Event{}, reject(ErrStale, fmt.Sprintf("timestamp %s is %s old, limit %s",
			ev.Timestamp.Format(time.RFC3339), age.Round(time.Second), maxAge), nil)
	}
	if ahead := ev.Timestamp.Sub(now); ahead > FutureSkew {
		return Event{}, reject(ErrStale, fmt.Sprintf("timestamp %s is %s in the future",
			ev.Timestamp.Format(time.RFC3339), ahead.Round(time.Second)), nil)
	}

	// The replay check comes last so that rejected deliveries never take
	// up room in the store.
	if v.Seen != nil {
		seen, err := v.Seen.SeenBefore(ctx, ev.WebhookID, now)
		if err != nil {
			return Event{}, fmt.Errorf("ghl webhook: check replay of %s: %w", ev.WebhookID, err)
		}
		if seen {
			return Event{}, reject(ErrReplayed, "webhookId "+ev.WebhookID, nil)
		}
	}
	return ev, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) verifySignature(h http.Header, body []byte) error {
	if vals := h.Values(HeaderEd25519); len(vals) > 0 {
		// Once this header is present the delivery stands or falls by it;
		// see the package documentation for why there is no fallback.
		sig, err := signatureBytes(HeaderEd25519, vals)
		if err != nil {
			return err
		}
		pub := v.Ed25519
		if pub == nil {
			if pub, err = DefaultEd25519Key(); err != nil {
				return fmt.Errorf("ghl webhook: %w", err)
			}
		}
		// ed25519.Verify panics on a key of the wrong length.
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("ghl webhook: ed25519 key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		if !ed25519.Verify(pub, body, sig) {
			return reject(ErrBadSignature, HeaderEd25519+" does not match the body", nil)
		}
		return nil
	}

	if vals := h.Values(HeaderRSA); len(vals) > 0 {
		sig, err := signatureBytes(HeaderRSA, vals)
		if err != nil {
			return err
		}
		pub := v.RSA
		if pub == nil {
			if pub, err = DefaultRSAKey(); err != nil {
				return fmt.Errorf("ghl webhook: %w", err)
			}
		}
		sum := sha256.Sum256(body)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			return reject(ErrBadSignature, HeaderRSA+" does not match the body", err)
		}
		return nil
	}
	return reject(ErrUnsigned, "no "+HeaderEd25519+" or "+HeaderRSA+" header", nil)
}

// signatureBytes decodes a signature header. More than one value is
// rejected: GHL sends one, and picking among several would let an
// attacker add a header of their own.
func signatureBytes(name string, vals []string) ([]byte, error) {
	if len(vals) != 1 {
		return nil, reject(ErrBadSignature, fmt.Sprintf("%d %s headers", len(vals), name), nil)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vals[0]))
	if err != nil {
		return nil, reject(ErrBadSignature, name+" is not base64", err)
	}
	return sig, nil
}

// envelope is the part of every payload Verify looks at. The string
// fields fail to decode if GHL ever sends another type, which is then a
// malformed payload rather than a silently empty id.
type envelope struct {
	Type       string  `json:"type"`
	LocationID string  `json:"locationId"`
	ID         string  `json:"id"`
	ContactID  string  `json:"contactId"`
	WebhookID  string  `json:"webhookId"`
	AppID      string  `json:"appId"`
	Timestamp  *string `json:"timestamp"`
}

func decode(body []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, reject(ErrMalformed, "body is not a JSON object", err)
	}
	if env.Type == "" {
		return Event{}, reject(ErrMalformed, "missing type", nil)
	}
	// Without a timestamp freshness cannot be established, which is an
	// authentication failure rather than a shape problem.
	if env.Timestamp == nil || *env.Timestamp == "" {
		return Event{}, reject(ErrStale, "missing timestamp", nil)
	}
	ts, err := time.Parse(time.RFC3339Nano, *env.Timestamp)
	if err != nil {
		return Event{}, reject(ErrMalformed, "timestamp is not ISO 8601", err)
	}
	if env.WebhookID == "" {
		return Event{}, reject(ErrMalformed, "missing webhookId", nil)
	}
	return Event{
		Type:       env.Type,
		LocationID: env.LocationID,
		ID:         env.ID,
		ContactID:  env.ContactID,
		WebhookID:  env.WebhookID,
		AppID:      env.AppID,
		Timestamp:  ts,
		Raw:        json.RawMessage(append([]byte(nil), body...)),
	}, nil
}
