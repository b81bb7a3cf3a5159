package webhook

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// DefaultEd25519PEM is the public key GHL publishes for x-ghl-signature
// (NOTES.md §10.3). GHL announces rotations by email, which is why a
// configured key (ghl_public_key in sync.hcl) takes precedence.
const DefaultEd25519PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
`

// DefaultRSAPEM is the 4096-bit public key GHL publishes for the legacy
// x-wh-signature header (NOTES.md §10.3).
const DefaultRSAPEM = `-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
`

// minRSABits rejects configured RSA keys too short to trust; GHL's own
// key is 4096 bits.
const minRSABits = 2048

// Parsing happens on first use rather than at package init so that a
// broken constant surfaces as an error from the caller that needs it
// instead of a panic in every program that imports the package.
var (
	defaultEd25519 = sync.OnceValues(func() (ed25519.PublicKey, error) {
		k, err := ParsePublicKey([]byte(DefaultEd25519PEM))
		if err != nil {
			return nil, fmt.Errorf("parse default ed25519 key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("default ed25519 key is a %T", k)
		}
		return pub, nil
	})
	defaultRSA = sync.OnceValues(func() (*rsa.PublicKey, error) {
		k, err := ParsePublicKey([]byte(DefaultRSAPEM))
		if err != nil {
			return nil, fmt.Errorf("parse default rsa key: %w", err)
		}
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("default rsa key is a %T", k)
		}
		return pub, nil
	})
)

// DefaultEd25519Key returns GHL's published Ed25519 key, parsed once.
// The returned key must not be modified.
func DefaultEd25519Key() (ed25519.PublicKey, error) { return defaultEd25519() }

// DefaultRSAKey returns GHL's published RSA key, parsed once. The
// returned key must not be modified.
func DefaultRSAKey() (*rsa.PublicKey, error) { return defaultRSA() }

// ParsePublicKey decodes the first PEM block in pemBytes, as read from a
// user's ghl_public_key file. It accepts a PKIX "PUBLIC KEY" block
// holding an Ed25519 or RSA key, and a PKCS #1 "RSA PUBLIC KEY" block.
// The result is an ed25519.PublicKey or a *rsa.PublicKey; any other key
// type, and RSA keys under 2048 bits, are errors.
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("ghl webhook: no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("ghl webhook: PEM block is %q, want PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("ghl webhook: parse public key: %w", err)
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		return k, nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits {
			return nil, fmt.Errorf("ghl webhook: rsa key has %d bits, want at least %d", n, minRSABits)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("ghl webhook: unsupported key type %T, want ed25519 or rsa", key)
	}
}
