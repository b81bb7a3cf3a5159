package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

var markerPattern = regexp.MustCompile(`ERROR: ([^#]+)`)

// wantMarkers reads the "# ERROR: <summary>" markers of a fixture as
// "line: summary" strings.
func wantMarkers(t *testing.T, src []byte) []string {
	t.Helper()
	var out []string
	for i, line := range strings.Split(string(src), "\n") {
		for _, m := range markerPattern.FindAllStringSubmatch(line, -1) {
			out = append(out, lineSummary(i+1, strings.TrimSpace(m[1])))
		}
	}
	return out
}

func lineSummary(line int, summary string) string {
	return fmt.Sprintf("%d: %s", line, summary)
}

func TestErrorFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, diags := Parse(path, src)
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no subject range", d.Summary)
					continue
				}
				if d.Subject.Filename != path {
					t.Errorf("diagnostic %q points at file %q, want %q", d.Summary, d.Subject.Filename, path)
				}
				if d.Severity == hcl.DiagError {
					got = append(got, lineSummary(d.Subject.Start.Line, d.Summary))
				}
			}
			want := wantMarkers(t, src)
			sortStrings := cmpopts.SortSlices(func(a, b string) bool { return a < b })
			if diff := cmp.Diff(want, got, sortStrings); diff != "" {
				t.Errorf("diagnostics by line (-want +got):\n%s\nall diagnostics:\n%s", diff, diags.Error())
			}
		})
	}
}
