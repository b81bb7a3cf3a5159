package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hclBlock is one ```hcl fenced block of a Markdown file.
type hclBlock struct {
	line int // of the opening fence
	src  []byte
}

// hclBlocks returns the ```hcl fenced blocks of a Markdown file.
func hclBlocks(t *testing.T, path string) []hclBlock {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []hclBlock
	var cur *hclBlock
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "```hcl":
			cur = &hclBlock{line: n}
		case cur != nil && fence == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.src = append(cur.src, line+"\n"...)
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: ```hcl block is never closed", path, cur.line)
	}
	return blocks
}

// TestReadmeHCLParses: every ```hcl snippet in the README is meant to be
// pasted into sync.hcl, so each must at least be valid HCL syntax (a
// one-line block with two attributes is not).
func TestReadmeHCLParses(t *testing.T) {
	const readme = "../../README.md"
	blocks := hclBlocks(t, readme)
	if len(blocks) < 5 {
		t.Fatalf("found %d ```hcl blocks in %s; the extraction is broken", len(blocks), readme)
	}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) {
			// Positions start at the fence's next line, so a diagnostic
			// names the README line to fix.
			_, diags := hclsyntax.ParseConfig(b.src, readme, hcl.Pos{Line: b.line + 1, Column: 1, Byte: 0})
			if diags.HasErrors() {
				t.Errorf("%s", diags.Error())
			}
		})
	}
}
