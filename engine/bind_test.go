package engine_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/providertest"
)

// TestFieldNameLists: every attribute that names fields (ignore_changes,
// ownership, tags_add's tags field, map and on_create left-hand sides,
// source/target references) is checked against the map or the schema at
// Open, with the diagnostic at the name's own line and column and a
// suggestion where one is close. A name that slips through is silently
// ignored by the diff, so the field the user meant to protect is
// overwritten on the next plan.
func TestFieldNameLists(t *testing.T) {
	withIgnore := func(list string) string {
		return contactsSync("  ignore_changes = "+list, mapNameEmail, "")
	}
	onCreate := strings.TrimSuffix(contactsSync("", mapNameEmail, ""), "}\n") + `
  on_create {
    create "b" "tasks" {
      titel = "Welcome ${source.name}"
    }
  }
}
`
	tests := []struct {
		name   string
		cfg    string
		at     string // the text the diagnostic starts at; "" means valid
		detail string // a part of the detail
	}{
		{name: "a mapped field is fine", cfg: withIgnore(`["email"]`)},
		{name: "a typo", cfg: withIgnore(`["email", "nmae"]`), at: `"nmae"`,
			detail: `b.contacts has no field "nmae"; ignore_changes names b.contacts fields the map block of sync "contacts" sets. Did you mean "name"? Mapped fields: name, email.`},
		{name: "a field of no schema and like no mapped one", cfg: withIgnore(`["bogus_field"]`), at: `"bogus_field"`,
			detail: `b.contacts has no field "bogus_field"`},
		{name: "a target field the map does not set", cfg: withIgnore(`["phone"]`), at: `"phone"`,
			detail: `b.contacts field "phone" is not set by the map block of sync "contacts", so there is nothing to ignore`},
		{name: "the source's name of a mapped field",
			cfg: contactsSync(`  ignore_changes = ["phone"]`, "    name  = source.name\n    email = source.phone", ""), at: `"phone"`,
			detail: `Did you mean "email"? It is the target field the map sets from a.contacts.phone.`},
		{name: "a computed list points at the expression", cfg: withIgnore(`concat(["nmae"], [])`), at: `concat(`,
			detail: `Did you mean "name"?`},
		{name: "ownership of a misspelt field",
			cfg: strings.TrimSuffix(contactsSync("", mapNameEmail, ""), "}\n") + "  ownership {\n    emial = \"source\"\n  }\n}\n",
			at:  `emial = "source"`, detail: `Did you mean "email"?`},
		{name: "map field typo", cfg: contactsSync("", "    nmae  = source.name", ""), at: `nmae  = source.name`,
			detail: `b.contacts has no field "nmae". Did you mean "name"? Its writable fields are:`},
		{name: "reference typo", cfg: contactsSync("", "    name  = source.nmae", ""), at: `source.nmae`,
			detail: `a.contacts records have no field "nmae". Did you mean "name"? Fields:`},
		{name: "on_create field typo", cfg: onCreate, at: `titel =`,
			detail: `b.tasks has no writable field "titel". Did you mean "title"?`},
		{name: "tags_add toward a kind with an archive flag and no tags",
			cfg: strings.Replace(strings.Replace(contactsSync("  on_delete = \"suspend\"", "    name = source.name", ""), "b.contacts", "b.boxes", 1),
				"  map {", "  suspend {\n    tags_add = [\"gone\"]\n  }\n  map {", 1),
			at: `["gone"]`, detail: `b.boxes has no tags field`},
		{name: "archive alone toward that kind is fine",
			cfg: strings.Replace(contactsSync("  on_delete = \"suspend\"", "    name = source.name", ""), "b.contacts", "b.boxes", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			// A kind that can be archived but has no tags.
			boxes := providertest.NewMemory(providers.Schema{Kind: "boxes", Caps: withArchive(fullCaps), ArchiveField: "archived",
				Fields: []providers.Field{{Name: "name", Type: cty.String}, {Name: "email", Type: cty.String}, {Name: "archived", Type: cty.Bool}}})
			h.b["boxes"], h.engineB["boxes"] = boxes, boxes
			_, diags := h.openDiags(tt.cfg)
			checkOneError(t, tt.cfg, diags, tt.at, tt.detail)
		})
	}
}

// checkOneError asserts that diags hold exactly one error, at the first
// occurrence of at in cfg and with detail in its text; an empty at means
// the config must be valid.
func checkOneError(t *testing.T, cfg string, diags hcl.Diagnostics, at, detail string) {
	t.Helper()
	if at == "" {
		if diags.HasErrors() {
			t.Fatalf("want a valid config, got:\n%s\n%s", diags.Error(), numbered(cfg))
		}
		return
	}
	var got []string
	var gotDetail string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if d.Subject == nil || filepath.Base(d.Subject.Filename) != "sync.hcl" {
			t.Errorf("diagnostic %q has no place in sync.hcl: %v", d.Summary, d.Subject)
			continue
		}
		got = append(got, fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column))
		gotDetail = d.Detail
	}
	if diff := cmp.Diff([]string{posOf(t, cfg, at)}, got); diff != "" {
		t.Fatalf("error positions (-want +got):\n%s\n%s\n%s", diff, diags.Error(), numbered(cfg))
	}
	if !strings.Contains(gotDetail, detail) {
		t.Errorf("detail = %q, want it to contain %q", gotDetail, detail)
	}
}

// posOf is the 1-based line:column of the first occurrence of needle.
func posOf(t *testing.T, src, needle string) string {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("config has no %q", needle)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return fmt.Sprintf("%d:%d", line, col)
}
