package config

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/bellsync/bellsync/providers/secret"
)

// DefaultMaxBody is the largest webhook body `bellsync run` reads when
// the webhooks block does not say. GHL's events are a few kilobytes.
const DefaultMaxBody = 1 << 20

// DefaultPathPrefix is where the webhook routes live when the webhooks
// block does not say: POST /webhooks/ghl and POST /webhooks/paperbell.
const DefaultPathPrefix = "/webhooks"

// minRSABits rejects configured RSA keys too short to trust; GHL's own
// key is 4096 bits.
const minRSABits = 2048

// webhookSettingsSchema is the part of the webhooks block the daemon
// needs beyond listen.
var webhookSettingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ghl_public_key"},
		{Name: "ghl_rsa_public_key"},
		{Name: "paperbell_secret"},
		{Name: "max_body"},
		{Name: "path_prefix"},
	},
}

// decodeWebhookSettings fills in everything but listen from the rest of
// the webhooks block. Keys are parsed here, not in the daemon, so that
// `bellsync validate` reports a wrong file at its line.
func decodeWebhookSettings(wh *Webhooks, body hcl.Body, evalCtx *hcl.EvalContext) hcl.Diagnostics {
	wh.MaxBody = DefaultMaxBody
	wh.PathPrefix = DefaultPathPrefix
	content, diags := body.Content(webhookSettingsSchema)

	if attr, ok := content.Attributes["ghl_public_key"]; ok {
		wh.GHLPublicKeyRange = attr.Range
		if v, vDiags := staticString(attr, evalCtx); vDiags.HasErrors() {
			diags = append(diags, vDiags...)
		} else if k, err := parseEd25519PEM(v); err != nil {
			diags = append(diags, badKey(attr, "an Ed25519", err))
		} else {
			wh.GHLPublicKey = k
		}
	}
	if attr, ok := content.Attributes["ghl_rsa_public_key"]; ok {
		wh.GHLRSAPublicKeyRange = attr.Range
		if v, vDiags := staticString(attr, evalCtx); vDiags.HasErrors() {
			diags = append(diags, vDiags...)
		} else if k, err := parseRSAPEM(v); err != nil {
			diags = append(diags, badKey(attr, "an RSA", err))
		} else {
			wh.GHLRSAPublicKey = k
		}
	}
	if attr, ok := content.Attributes["paperbell_secret"]; ok {
		wh.PaperbellSecretRange = attr.Range
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		switch {
		case vDiags.HasErrors():
		case strings.TrimSpace(v) == "":
			// An empty secret would let anyone post events; refuse it
			// rather than silently turning the route off.
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty webhook secret",
				Detail: "paperbell_secret is empty, so any request could post Paperbell events. " +
					"Set it to a long random value (for example env(\"BELLSYNC_ZAP_SECRET\")), or remove the attribute to turn the Paperbell route off.",
				Subject: attr.Expr.Range().Ptr(),
			})
		default:
			wh.PaperbellSecret = secret.New(v)
		}
	}
	if attr, ok := content.Attributes["max_body"]; ok {
		wh.MaxBodyRange = attr.Range
		n, nDiags := staticInt(attr, evalCtx)
		diags = append(diags, nDiags...)
		if !nDiags.HasErrors() {
			if n < 1024 || n > 64<<20 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid max_body",
					Detail: fmt.Sprintf("max_body is a size in bytes between 1024 and 67108864 (64 MiB), but it is %d. "+
						"GHL events are a few kilobytes; the default is 1048576 (1 MiB).", n),
					Subject: attr.Expr.Range().Ptr(),
				})
			} else {
				wh.MaxBody = n
			}
		}
	}
	if attr, ok := content.Attributes["path_prefix"]; ok {
		wh.PathPrefixRange = attr.Range
		v, vDiags := staticString(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			p := strings.TrimSuffix(v, "/")
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " ?#{}*") {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid path_prefix",
					Detail: fmt.Sprintf("path_prefix must be a URL path starting with \"/\", such as \"/webhooks\", but it is %q. "+
						"The routes are PREFIX/ghl and PREFIX/paperbell.", v),
					Subject: attr.Expr.Range().Ptr(),
				})
			} else {
				wh.PathPrefix = p
			}
		}
	}
	return diags
}

func badKey(attr *hcl.Attribute, want string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid public key",
		Detail: fmt.Sprintf("The %s attribute must be %s public key in PEM form (usually file(\"...pem\")): %s. "+
			"Copy the key GHL publishes, or remove the attribute to use it by default.", attr.Name, want, err),
		Subject: attr.Expr.Range().Ptr(),
	}
}

func parseEd25519PEM(s string) (ed25519.PublicKey, error) {
	k, err := parsePublicKeyPEM(s)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the file holds a %s key", keyKind(k))
	}
	return pub, nil
}

func parseRSAPEM(s string) (*rsa.PublicKey, error) {
	k, err := parsePublicKeyPEM(s)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the file holds a %s key", keyKind(k))
	}
	if n := pub.N.BitLen(); n < minRSABits {
		return nil, fmt.Errorf("the key has %d bits, fewer than the %d required", n, minRSABits)
	}
	return pub, nil
}

// parsePublicKeyPEM reads the first PEM block: PKIX "PUBLIC KEY" or
// PKCS #1 "RSA PUBLIC KEY". The webhook package has the same rules; they
// are repeated here because the engine does not import provider code.
func parsePublicKeyPEM(s string) (any, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block (-----BEGIN PUBLIC KEY-----) found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse key: %w", err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("the PEM block is %q, not PUBLIC KEY", block.Type)
}

func keyKind(k any) string {
	switch k.(type) {
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return "RSA"
	}
	return fmt.Sprintf("%T", k)
}

// staticInt evaluates a whole number, written as a number or a numeric
// string.
func staticInt(attr *hcl.Attribute, evalCtx *hcl.EvalContext) (int64, hcl.Diagnostics) {
	v, diags := staticValue(attr, evalCtx)
	if diags.HasErrors() {
		return 0, diags
	}
	n, err := convert.Convert(v, cty.Number)
	var i int64
	if err == nil {
		var acc big.Accuracy
		i, acc = n.AsBigFloat().Int64()
		if acc != big.Exact {
			err = errors.New("not a whole number")
		}
	}
	if err != nil {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("The %s attribute must be a whole number, such as 1048576. Change it to a number.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return i, diags
}
