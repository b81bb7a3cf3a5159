package config

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIgnoreChangesRanges: each name in ignore_changes keeps where it was
// written, so the engine can point a name that is not a mapped field at
// its own column rather than at the sync block.
func TestIgnoreChangesRanges(t *testing.T) {
	tests := []struct {
		name  string
		attr  string
		want  map[string]string // field -> line:col-col
		diags []string          // summary at line:col
	}{
		{
			name: "literal list: each element",
			attr: `ignore_changes = ["time_zone", "phone"]`,
			want: map[string]string{"time_zone": "4:21-32", "phone": "4:34-41"},
		},
		{
			name: "literal list across lines",
			attr: "ignore_changes = [\n    \"time_zone\",\n    \"phone\",\n  ]",
			want: map[string]string{"time_zone": "5:5-16", "phone": "6:5-12"},
		},
		{
			name: "repeat keeps the first",
			attr: `ignore_changes = ["phone", "phone"]`,
			want: map[string]string{"phone": "4:21-28"},
		},
		{
			name: "computed list: the whole expression",
			attr: `ignore_changes = concat(["time_zone"], ["phone"])`,
			want: map[string]string{"time_zone": "4:20-52", "phone": "4:20-52"},
		},
		{
			name:  "empty element: at the element",
			attr:  `ignore_changes = ["phone", ""]`,
			want:  map[string]string{"phone": "4:21-28"},
			diags: []string{"Empty field name at 4:30"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "provider \"ghl\" {}\nprovider \"paperbell\" {}\nsync \"contacts\" {\n  " + tt.attr + `
  source = ghl.contacts
  target = paperbell.contacts
}
`
			cfg, diags := Parse("sync.hcl", []byte(src))
			var gotDiags []string
			for _, d := range diags {
				gotDiags = append(gotDiags, fmt.Sprintf("%s at %d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column))
			}
			if diff := cmp.Diff(tt.diags, gotDiags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			got := map[string]string{}
			for f, r := range cfg.Syncs[0].IgnoreChangesRanges {
				got[f] = fmt.Sprintf("%d:%d-%d", r.Start.Line, r.Start.Column, r.End.Column)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ranges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTagsAddRange: suspend.tags_add keeps its range, for a kind that has
// no tags field to add them to.
func TestTagsAddRange(t *testing.T) {
	src := `provider "ghl" {}
provider "paperbell" {}
sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts
  suspend {
    tags_add = ["gone"]
  }
}
`
	cfg, diags := Parse("sync.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got, want := cfg.Syncs[0].Suspend.TagsAddRange.String(), "sync.hcl:7,16-24"; got != want {
		t.Errorf("tags_add range = %s, want %s", got, want)
	}
}
