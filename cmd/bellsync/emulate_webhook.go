package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
	"github.com/bellsync/bellsync/providers/httpx"
)

// File names `bellsync emulate -ghl-webhook-key-dir` writes the test
// public keys to, for sync.hcl's ghl_public_key = file(...).
const (
	webhookEd25519File = "ghl-webhook-ed25519.pem"
	webhookRSAFile     = "ghl-webhook-rsa.pem"
)

// emuWebhookFlags make the GHL emulator deliver signed webhooks.
type emuWebhookFlags struct {
	url, keyDir string
}

func (w *emuWebhookFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.url, "ghl-webhook-url", "", "POST a signed GHL webhook here for every change made through the GHL emulator (loopback only), e.g. http://127.0.0.1:8080/webhooks/ghl")
	fs.StringVar(&w.keyDir, "ghl-webhook-key-dir", "", "write the emulator's webhook public keys here as "+webhookEd25519File+" and "+webhookRSAFile+", for ghl_public_key = file(...)")
}

// apply checks the flags, generates signing keys, writes their public
// halves and sets the emulator's webhook options. It returns lines to
// print, or none when webhooks are off.
func (w *emuWebhookFlags) apply(opts *ghlemu.Options) ([]string, error) {
	if w.url == "" {
		if w.keyDir != "" {
			return nil, errors.New("-ghl-webhook-key-dir needs -ghl-webhook-url")
		}
		return nil, nil
	}
	u, err := url.Parse(w.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-ghl-webhook-url %q is not an http(s) URL", w.url)
	}
	// The emulator holds real-looking records; its events stay on this
	// machine.
	if !httpx.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("-ghl-webhook-url %q is not a loopback address; the emulator only delivers to this machine", w.url)
	}
	if w.keyDir == "" {
		return nil, errors.New("-ghl-webhook-url needs -ghl-webhook-key-dir DIR, where the emulator writes the public keys that sync.hcl must trust")
	}
	signer, err := webhook.GenerateTestKeys()
	if err != nil {
		return nil, err
	}
	ed, rsaPub := signer.Public()
	if err := os.MkdirAll(w.keyDir, 0o755); err != nil {
		return nil, fmt.Errorf("webhook key dir: %w", err)
	}
	edPath, rsaPath := filepath.Join(w.keyDir, webhookEd25519File), filepath.Join(w.keyDir, webhookRSAFile)
	for _, k := range []struct {
		path string
		key  any
	}{{edPath, ed}, {rsaPath, rsaPub}} {
		der, err := x509.MarshalPKIXPublicKey(k.key)
		if err != nil {
			return nil, fmt.Errorf("encode webhook key: %w", err)
		}
		if err := os.WriteFile(k.path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			return nil, fmt.Errorf("write webhook key: %w", err)
		}
	}
	opts.WebhookURL, opts.WebhookEd25519Key, opts.WebhookRSAKey = w.url, signer.Ed25519, signer.RSA
	lines := []string{
		"GHL webhooks:       POST " + w.url + " (signed x-ghl-signature and x-wh-signature)",
		"  add to sync.hcl:",
	}
	for _, l := range strings.Split(webhooksSnippet(edPath, rsaPath), "\n") {
		lines = append(lines, "    "+l)
	}
	return lines, nil
}

// webhooksSnippet is the webhooks block that trusts the emulator's keys,
// ready to paste. HCL allows only one attribute in a one-line block, so it
// spans lines. The paths are absolute because file() resolves relative
// paths against the config's directory, not the emulator's.
func webhooksSnippet(edPath, rsaPath string) string {
	quote := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		// hclwrite escapes what HCL needs escaped, "${" included.
		return string(hclwrite.TokensForValue(cty.StringVal(p)).Bytes())
	}
	return "webhooks {\n" +
		"  ghl_public_key     = file(" + quote(edPath) + ")\n" +
		"  ghl_rsa_public_key = file(" + quote(rsaPath) + ")\n" +
		"}"
}
