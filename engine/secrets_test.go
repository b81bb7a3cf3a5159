package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl"
	"github.com/bellsync/bellsync/providers/paperbell"
)

// TestSecretsStayOutOfValidate: what `bellsync validate` prints for a
// provider attribute or a map entry that misuses a secret names the
// variable, never its value. The provider blocks are decoded by the real
// providers, outside the config package, so this checks the whole path.
func TestSecretsStayOutOfValidate(t *testing.T) {
	const token = "ghl-token-4b1d(9e7c5a3f"
	t.Setenv("BELLSYNC_TEST_GHL_TOKEN", token)
	t.Setenv("BELLSYNC_TEST_PB_KEY", "pb-key-8c2e6a0f4d9b")
	providersHCL := `provider "ghl" {
  location_id = "LOC1"
  token       = env("BELLSYNC_TEST_GHL_TOKEN")
  base_url    = "http://127.0.0.1:1"
  page_size   = %s
}
provider "paperbell" {
  api_key  = env("BELLSYNC_TEST_PB_KEY")
  base_url = "http://127.0.0.1:2"
}
sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts
  match {
    key "email" {
      source = normalize_email(source.email)
      target = normalize_email(target.email)
    }
  }
  map {
    email      = source.email
    first_name = %s
  }
}
`
	for _, tc := range []struct {
		name, pageSize, firstName string
		named                     bool // the message names the variable
	}{
		{"tonumber in a provider block", `tonumber(env("BELLSYNC_TEST_GHL_TOKEN"))`, `source.firstName`, true},
		{"regex in a provider block", `length(regex(env("BELLSYNC_TEST_GHL_TOKEN"), "x"))`, `source.firstName`, true},
		{"a piece of the token in a provider block", `tonumber(substr(env("BELLSYNC_TEST_GHL_TOKEN"), 0, 9))`, `source.firstName`, true},
		{"tonumber in a map", `100`, `tostring(tonumber(env("BELLSYNC_TEST_PB_KEY")))`, true},
		{"a piece of the key in a map", `100`, `tostring(tonumber(split("-", env("BELLSYNC_TEST_PB_KEY"))[2]))`, true},
		{"element in a map", `100`, `element(env("BELLSYNC_TEST_PB_KEY"), 0)`, false},
		{"the key where a list belongs", `100`, `tostring(sort(env("BELLSYNC_TEST_PB_KEY")))`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sync.hcl")
			src := strings.Replace(strings.Replace(providersHCL, "%s", tc.pageSize, 1), "%s", tc.firstName, 1)
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			ws, diags := engine.Open(context.Background(), engine.Options{ConfigPath: path, NoState: true,
				Registry: providers.Registry{"ghl": ghl.New, "paperbell": paperbell.New}})
			if ws != nil {
				ws.Close()
			}
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			all := diags.Error()
			for _, d := range diags {
				all += "\n" + d.Summary + ": " + d.Detail
			}
			for _, leak := range []string{token, "ghl-token", "4b1d(9e7c5a3f", "pb-key-8c2e6a0f4d9b", "8c2e6a0f4d9b"} {
				if strings.Contains(all, leak) {
					t.Errorf("diagnostics show %q:\n%s", leak, all)
				}
			}
			if tc.named && !strings.Contains(all, `env("BELLSYNC_TEST_`) {
				t.Errorf("diagnostics do not name the variable:\n%s", all)
			}
		})
	}
}
