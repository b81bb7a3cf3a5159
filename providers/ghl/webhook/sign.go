package webhook

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
)

// testRSABits keeps key generation fast in tests. Real GHL keys are
// 4096 bits; the verification code does not depend on the size.
const testRSABits = 2048

// Signer signs deliveries the way GHL does, for tests and the emulator.
// A nil key leaves its header out, which is how to produce a delivery
// signed with only one scheme.
type Signer struct {
	Ed25519 ed25519.PrivateKey
	RSA     *rsa.PrivateKey
}

// Sign returns headers carrying x-ghl-signature and x-wh-signature over
// body. It panics if the RSA key cannot sign a SHA-256 digest, which
// only a hand-built, broken key can cause.
func (s Signer) Sign(body []byte) http.Header {
	h := make(http.Header)
	if s.Ed25519 != nil {
		h.Set(HeaderEd25519, base64.StdEncoding.EncodeToString(ed25519.Sign(s.Ed25519, body)))
	}
	if s.RSA != nil {
		sum := sha256.Sum256(body)
		sig, err := rsa.SignPKCS1v15(nil, s.RSA, crypto.SHA256, sum[:])
		if err != nil {
			panic(fmt.Sprintf("ghl webhook: rsa sign: %v", err))
		}
		h.Set(HeaderRSA, base64.StdEncoding.EncodeToString(sig))
	}
	return h
}

// Public returns the public halves of the signer's keys; either is nil
// when the signer lacks that key.
func (s Signer) Public() (ed25519.PublicKey, *rsa.PublicKey) {
	var edPub ed25519.PublicKey
	if s.Ed25519 != nil {
		edPub = s.Ed25519.Public().(ed25519.PublicKey)
	}
	var rsaPub *rsa.PublicKey
	if s.RSA != nil {
		rsaPub = &s.RSA.PublicKey
	}
	return edPub, rsaPub
}

// GenerateTestKeys returns a Signer with fresh Ed25519 and 2048-bit RSA
// keys. They stand in for GHL's keys, which nobody outside GHL holds.
func GenerateTestKeys() (Signer, error) {
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Signer{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, testRSABits)
	if err != nil {
		return Signer{}, fmt.Errorf("generate rsa key: %w", err)
	}
	return Signer{Ed25519: edPriv, RSA: rsaPriv}, nil
}
