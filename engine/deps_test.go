package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineKnowsNoProvider keeps the dependency rule of the layout: the
// engine sees only the provider contract (and the secret type), never a
// provider's own package, its HTTP code or the CLI.
func TestEngineKnowsNoProvider(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/bellsync/bellsync/providers":        true,
		"github.com/bellsync/bellsync/providers/secret": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/bellsync/bellsync/") || strings.HasPrefix(pkg, "github.com/bellsync/bellsync/engine") {
			continue
		}
		if !allowed[pkg] {
			t.Errorf("the engine depends on %s; it may use only the provider contract", pkg)
		}
	}
}
