package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestSecretsStayOutOfDiagnostics: a value env() or file() returned
// never shows in a diagnostic, whether HCL quotes it in a function error
// or a check of this package quotes the value it refused; an argument
// that is only a piece of a secret hides the whole message.
func TestSecretsStayOutOfDiagnostics(t *testing.T) {
	const token = "tok-3f9a(8b7c6d5e4f3a2b1c"
	t.Setenv("BELLSYNC_TEST_TOKEN", token)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("file-secret-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src, want string // want: a part of the redacted detail
	}{
		{"tonumber", `webhooks {
  max_body = tonumber(env("BELLSYNC_TEST_TOKEN"))
}`, `(sensitive value from env("BELLSYNC_TEST_TOKEN"))`},
		{"tobool", `sync "s" {
  source = a.b
  target = c.d
  allow_cascading_delete = tobool(env("BELLSYNC_TEST_TOKEN"))
}`, `env("BELLSYNC_TEST_TOKEN")`},
		{"regex pattern", `state {
  path = regex(env("BELLSYNC_TEST_TOKEN"), "x")
}`, `env("BELLSYNC_TEST_TOKEN")`},
		{"index", `state {
  path = {a = "b"}[env("BELLSYNC_TEST_TOKEN")]
}`, ``},
		{"element", `state {
  path = element([], length(env("BELLSYNC_TEST_TOKEN")))
}`, ``},
		{"timeadd", `state {
  path = timeadd(env("BELLSYNC_TEST_TOKEN"), "1h")
}`, `env("BELLSYNC_TEST_TOKEN")`},
		{"jsondecode", `state {
  path = jsondecode(env("BELLSYNC_TEST_TOKEN"))
}`, ``},
		{"a piece of the token", `state {
  path = tonumber(substr(env("BELLSYNC_TEST_TOKEN"), 0, 8))
}`, `derived from env("BELLSYNC_TEST_TOKEN"), which is not shown`},
		{"split", `state {
  path = tonumber(split("(", env("BELLSYNC_TEST_TOKEN"))[0])
}`, `derived from env("BELLSYNC_TEST_TOKEN")`},
		{"file", `state {
  path = tonumber(file("secret.txt"))
}`, `(sensitive value from file("secret.txt"))`},
		{"time zone check", `schedule {
  cron      = "@hourly"
  time_zone = env("BELLSYNC_TEST_TOKEN")
}`, `(sensitive value from env("BELLSYNC_TEST_TOKEN")) is not a known IANA time zone`},
		{"cron check", `schedule {
  cron = env("BELLSYNC_TEST_TOKEN")
}`, `env("BELLSYNC_TEST_TOKEN")`},
		{"direction check", `sync "s" {
  source    = a.b
  target    = c.d
  direction = env("BELLSYNC_TEST_TOKEN")
}`, `(sensitive value from env("BELLSYNC_TEST_TOKEN")) is not a direction`},
		{"max_deletes check", `sync "s" {
  source      = a.b
  target      = c.d
  max_deletes = env("BELLSYNC_TEST_TOKEN")
}`, `env("BELLSYNC_TEST_TOKEN")`},
		{"listen check", `webhooks {
  listen = env("BELLSYNC_TEST_TOKEN")
}`, `env("BELLSYNC_TEST_TOKEN")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(filepath.Join(dir, "sync.hcl"), []byte(tc.src+"\n"))
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			all := diagText(diags)
			for _, leak := range []string{token, "tok-3f9a", "8b7c6d5e4f3a2b1c", "file-secret-0123456789", "file-sec"} {
				if strings.Contains(all, leak) {
					t.Errorf("diagnostics show %q:\n%s", leak, all)
				}
			}
			if !strings.Contains(all, tc.want) {
				t.Errorf("diagnostics do not say %q:\n%s", tc.want, all)
			}
		})
	}
}

// TestShortEnvValuesShown: values too short to be secrets are left in
// messages, which would otherwise lose words such as "US".
func TestShortEnvValuesShown(t *testing.T) {
	t.Setenv("BELLSYNC_TEST_DIRECTION", "up")
	_, diags := Parse("sync.hcl", []byte("sync \"s\" {\n  source = a.b\n  target = c.d\n  direction = env(\"BELLSYNC_TEST_DIRECTION\")\n}\n"))
	if all := diagText(diags); !strings.Contains(all, `"up" is not a direction`) {
		t.Errorf("diagnostics:\n%s", all)
	}
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}
