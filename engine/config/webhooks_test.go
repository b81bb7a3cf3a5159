package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writePEM(t *testing.T, dir, name string, key any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookSettings(t *testing.T) {
	dir := t.TempDir()
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, dir, "ed.pem", edPub)
	writePEM(t, dir, "rsa.pem", &rsaKey.PublicKey)
	writePEM(t, dir, "small.pem", &small.PublicKey)
	t.Setenv("BELLSYNC_TEST_ZAP_SECRET", "s3cret-value")

	type got struct {
		Ed, RSA, Secret bool
		MaxBody         int64
		Prefix          string
	}
	for _, tc := range []struct {
		name  string
		body  string
		want  got
		diags []string // "line: summary"
	}{
		{
			name: "defaults",
			body: `listen = "127.0.0.1:9000"`,
			want: got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
		},
		{
			name: "everything",
			body: `ghl_public_key     = file("ed.pem")
ghl_rsa_public_key = file("rsa.pem")
paperbell_secret   = env("BELLSYNC_TEST_ZAP_SECRET")
max_body           = 4096
path_prefix        = "/hooks/"`,
			want: got{Ed: true, RSA: true, Secret: true, MaxBody: 4096, Prefix: "/hooks"},
		},
		{
			name:  "an RSA key where Ed25519 belongs",
			body:  `ghl_public_key = file("rsa.pem")`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Invalid public key"},
		},
		{
			name:  "not PEM",
			body:  "\n" + `ghl_rsa_public_key = "MIIB..."`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"3: Invalid public key"},
		},
		{
			name:  "a short RSA key",
			body:  `ghl_rsa_public_key = file("small.pem")`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Invalid public key"},
		},
		{
			name:  "empty secret",
			body:  `paperbell_secret = env("BELLSYNC_TEST_UNSET_SECRET", "")`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Empty webhook secret"},
		},
		{
			name: "bad size and prefix",
			body: `max_body = 10
path_prefix = "hooks"`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Invalid max_body", "3: Invalid path_prefix"},
		},
		{
			name:  "size not a number",
			body:  `max_body = "big"`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Incorrect attribute value type"},
		},
		{
			name:  "misspelt attribute",
			body:  `paperbel_secret = "x"`,
			want:  got{MaxBody: DefaultMaxBody, Prefix: "/webhooks"},
			diags: []string{"2: Unsupported argument"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "webhooks {\n" + tc.body + "\n}\n"
			cfg, diags := Parse(filepath.Join(dir, "sync.hcl"), []byte(src))
			var gotDiags []string
			for _, d := range diags {
				gotDiags = append(gotDiags, strconv.Itoa(d.Subject.Start.Line)+": "+d.Summary)
				if d.Subject == nil || !strings.HasSuffix(d.Subject.Filename, "sync.hcl") {
					t.Errorf("diagnostic %q has no range in sync.hcl", d.Summary)
				}
			}
			if diff := cmp.Diff(tc.diags, gotDiags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diags.Error())
			}
			if cfg == nil || cfg.Webhooks == nil {
				t.Fatal("no webhooks block decoded")
			}
			wh := cfg.Webhooks
			g := got{Ed: wh.GHLPublicKey != nil, RSA: wh.GHLRSAPublicKey != nil, Secret: !wh.PaperbellSecret.IsZero(),
				MaxBody: wh.MaxBody, Prefix: wh.PathPrefix}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if wh.GHLPublicKey != nil && !wh.GHLPublicKey.Equal(edPub) {
				t.Error("ghl_public_key is not the key in ed.pem")
			}
			if wh.PaperbellSecret.Reveal() != "" && wh.PaperbellSecret.Reveal() != "s3cret-value" {
				t.Errorf("paperbell_secret = %q", wh.PaperbellSecret.Reveal())
			}
		})
	}
}

// TestListen: the daemon's address is checked at load, so a port out of
// range or a host that cannot be one fails validate at its line rather
// than `bellsync run` at start-up.
func TestListen(t *testing.T) {
	for _, tc := range []struct {
		listen string
		want   string // "" for valid, else a part of the detail
	}{
		{listen: "127.0.0.1:8080"},
		{listen: ":8080"},
		{listen: "0.0.0.0:0"},
		{listen: "0.0.0.0:65535"},
		{listen: "localhost:8080"},
		{listen: "bellsync.internal.example:443"},
		{listen: "[::1]:8080"},
		{listen: "[fe80::1%eth0]:8080"},
		{listen: "0.0.0.0:99999", want: "the port 99999 is not between 0 and 65535"},
		{listen: "0.0.0.0:65536", want: "not between 0 and 65535"},
		{listen: "0.0.0.0:999999999999999999999", want: "not between 0 and 65535"},
		{listen: "0.0.0.0:-1", want: `the port "-1" is not a number`},
		{listen: "0.0.0.0:http", want: `the port "http" is not a number`},
		{listen: "127.0.0.1:", want: `the port "" is not a number`},
		{listen: "8080", want: "it has no port"},
		{listen: "::1:8080", want: "it has no port"},
		{listen: "bad_host!:8080", want: `the host "bad_host!" is neither an IP address nor a host name`},
		{listen: "-x.example:8080", want: "neither an IP address nor a host name"},
		{listen: "300.1.1.1.1:8080", want: ""}, // a legal, if odd, host name
	} {
		t.Run(tc.listen, func(t *testing.T) {
			src := "webhooks {\n  listen = " + strconv.Quote(tc.listen) + "\n}\n"
			cfg, diags := Parse("sync.hcl", []byte(src))
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatalf("want valid, got %s", diags.Error())
				}
				if cfg.Webhooks.Listen != tc.listen {
					t.Errorf("Listen = %q, want %q", cfg.Webhooks.Listen, tc.listen)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != "Invalid listen address" || !strings.Contains(diags[0].Detail, tc.want) {
				t.Fatalf("want one Invalid listen address containing %q, got %s", tc.want, diags.Error())
			}
			if r := diags[0].Subject; r == nil || r.Start.Line != 2 || r.Start.Column != 12 {
				t.Errorf("diagnostic at %v, want sync.hcl:2:12", r)
			}
		})
	}
}
