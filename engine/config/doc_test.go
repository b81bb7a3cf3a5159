package config

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestDocExamplesParse: the HCL shown in the package documentation is
// what people copy, so each example must be syntactically valid once its
// "..." placeholders are dropped. A one-line block holding two
// attributes, for instance, is not HCL.
func TestDocExamplesParse(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			cur = nil
		}
	}
	for _, line := range strings.Split(string(src), "\n") {
		code, ok := strings.CutPrefix(line, "//\t")
		switch {
		case ok:
			cur = append(cur, code)
		case line == "//" && len(cur) > 0:
			// A blank line inside a code block; one that ends the
			// block is harmless to HCL.
			cur = append(cur, "")
		default:
			flush()
		}
	}
	flush()
	placeholder := regexp.MustCompile(`\{ \.\.\. \}`)
	n := 0
	for _, b := range blocks {
		if !strings.Contains(b, "{") {
			continue // prose indented as code, such as a function signature
		}
		n++
		b = placeholder.ReplaceAllString(b, "{}")
		var kept []string
		for _, l := range strings.Split(b, "\n") {
			if strings.TrimSpace(l) != "..." {
				kept = append(kept, l)
			}
		}
		if _, diags := hclsyntax.ParseConfig([]byte(strings.Join(kept, "\n")), "doc.go", hcl.InitialPos); diags.HasErrors() {
			t.Errorf("doc example does not parse: %s\n%s", diags.Error(), b)
		}
	}
	if n < 2 {
		t.Fatalf("found %d HCL examples in doc.go, want at least 2", n)
	}
}
