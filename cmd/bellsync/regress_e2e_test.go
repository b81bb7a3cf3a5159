package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// linkedPair finds a GHL contact and the Paperbell client it was linked to
// by email after a first apply.
func linkedPair(t *testing.T, h *harness) (ghlemu.Contact, pbemu.Client) {
	t.Helper()
	clients := map[string]pbemu.Client{}
	for _, c := range h.pb.Clients() {
		clients[strings.ToLower(c.Email)] = c
	}
	for _, c := range h.ghl.Contacts() {
		if pc, ok := clients[strings.ToLower(strings.TrimSpace(c.Email()))]; ok && c.Email() != "" && len(h.pb.Tasks(pc.ID)) > 0 {
			return c, pc
		}
	}
	t.Fatal("no linked pair with tasks in the seed")
	return nil, pbemu.Client{}
}

// TestDeletedContactWithChildrenIsSuspended: deleting a GHL contact whose
// tasks and notes are synced must not fail the children's listing (and so
// every plan); the delete policy archives the Paperbell client.
func TestDeletedContactWithChildrenIsSuspended(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 5))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	c, pc := linkedPair(t, h)
	h.ghl.DeleteContactDirect(c.ID())
	out, _ := h.mustRun(2, "plan", "-config", h.config, "-detailed-exitcode")
	if !strings.Contains(out, "1 to suspend") {
		t.Errorf("want the Paperbell client suspended:\n%s", tail(out, 8))
	}
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	got, ok := h.pb.Client(pc.ID)
	if !ok || !got.Archived {
		t.Errorf("Paperbell client %s should be archived, got %+v", pc.ID, got)
	}
	h.mustRun(0, "plan", "-config", h.config, "-detailed-exitcode")
}

// TestBackfillDoesNotStealAnIdentity: a Paperbell-only client whose email
// a linked GHL contact now has is reported, not created in GHL or adopted
// onto that contact, and the GHL edit is kept.
func TestBackfillDoesNotStealAnIdentity(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 5))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	c, _ := linkedPair(t, h)
	h.pb.PutClient(pbemu.Client{FirstName: "Yolanda", LastName: "Only", Email: "y.only@example.com"})
	c["email"] = "y.only@example.com"
	h.ghl.PutContact(c)
	p := h.planJSON()
	reported := false
	for _, ch := range p.Changes {
		if ch.Action == "error" && strings.Contains(ch.Problem, "y.only@example.com") {
			reported = true
		}
		if ch.Action == "create" && ch.Label == "y.only@example.com" {
			t.Errorf("the plan creates a record for an identity a linked contact has: %+v", ch)
		}
	}
	if !reported {
		t.Errorf("the clash is not reported")
	}
	h.bellsync("apply", "-config", h.config, "-auto-approve")
	got, _ := h.ghl.Contact(c.ID())
	if got.Email() != "y.only@example.com" {
		t.Errorf("the GHL edit was reverted: email %q", got.Email())
	}
	n := 0
	for _, gc := range h.ghl.Contacts() {
		if gc.Email() == "y.only@example.com" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d GHL contacts have y.only@example.com, want 1", n)
	}
}

// TestProviderDiagnosticsHideEnvValues: a provider's own complaint about a
// setting quotes the value, and a value read with env() may be a secret
// pasted into the wrong variable; validate shows where it came from
// instead.
func TestProviderDiagnosticsHideEnvValues(t *testing.T) {
	const leaked = "ftp://pit-7f3a9c1e-secret-token"
	src, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, filepath.Join(t.TempDir(), "sync.hcl"))
	if err := os.WriteFile(h.config, src, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GHL_BASE_URL", leaked)
	_, errs := h.mustRun(1, "validate", "-config", h.config)
	if strings.Contains(errs, "pit-7f3a9c1e") {
		t.Errorf("validate shows the env value:\n%s", errs)
	}
	if !strings.Contains(errs, `(sensitive value from env("GHL_BASE_URL"))`) && !strings.Contains(errs, "base_url") {
		t.Errorf("validate does not say what is wrong:\n%s", errs)
	}
}
