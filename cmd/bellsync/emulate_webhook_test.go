package main

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
)

func TestEmulateWebhookFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		flags   emuWebhookFlags
		wantErr string
	}{
		{name: "off"},
		{name: "loopback with a key dir", flags: emuWebhookFlags{url: "http://127.0.0.1:8080/webhooks/ghl", keyDir: dir}},
		{name: "another host", flags: emuWebhookFlags{url: "http://example.com/hook", keyDir: dir}, wantErr: "not a loopback"},
		{name: "no key dir", flags: emuWebhookFlags{url: "http://localhost:8080/webhooks/ghl"}, wantErr: "-ghl-webhook-key-dir"},
		{name: "not a URL", flags: emuWebhookFlags{url: "127.0.0.1:8080", keyDir: dir}, wantErr: "not an http(s) URL"},
		{name: "key dir alone", flags: emuWebhookFlags{keyDir: dir}, wantErr: "needs -ghl-webhook-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts ghlemu.Options
			_, err := tc.flags.apply(&opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.flags.url == "" {
				if opts.WebhookURL != "" {
					t.Error("webhooks on without a URL")
				}
				return
			}
			// The written public key must verify what the emulator signs.
			pemBytes, err := os.ReadFile(filepath.Join(dir, webhookEd25519File))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := webhook.ParsePublicKey(pemBytes)
			if err != nil {
				t.Fatal(err)
			}
			if !opts.WebhookEd25519Key.Public().(ed25519.PublicKey).Equal(pub) {
				t.Error("the written Ed25519 key is not the emulator's")
			}
			if opts.WebhookURL != tc.flags.url || opts.WebhookRSAKey == nil {
				t.Errorf("options not set: %+v", opts)
			}
		})
	}
}
