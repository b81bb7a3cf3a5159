package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine/state"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// noDuplicates fails when two Paperbell clients share an email.
func noDuplicates(t *testing.T, clients []pbemu.Client) {
	t.Helper()
	seen := map[string]string{}
	for _, c := range clients {
		e := strings.ToLower(strings.TrimSpace(c.Email))
		if e == "" {
			continue
		}
		if other, ok := seen[e]; ok {
			t.Errorf("duplicate Paperbell clients %s and %s for %q", other, c.ID, e)
		}
		seen[e] = c.ID
	}
}

// TestDroppedCreatesAreAdopted: the Paperbell emulator applies the first
// creates and then drops the connection, as a proxy timing out would. The
// apply must find those records and link them instead of creating again.
func TestDroppedCreatesAreAdopted(t *testing.T) {
	h := newHarness(t, demoConfig)
	// Only creates, so the dropped writes are all creates.
	for _, c := range h.pb.Clients() {
		h.pb.DeleteClientDirect(c.ID)
	}
	h.pb.SetFaults(pbemu.Faults{BurstDropAfterWrite: 5})
	out, _ := h.mustRun(0, "apply", "-config", h.config, "-auto-approve", "-parallelism", "1")
	if !strings.Contains(out, "5 adopted") {
		t.Errorf("want 5 creates adopted after dropped answers:\n%s", tail(out, 5))
	}
	noDuplicates(t, h.pb.Clients())
	h.mustRun(0, "plan", "-config", h.config, "-detailed-exitcode")
}

// TestSavedPlanSkipsMovedRecords: a record edited between plan and apply
// is skipped with a clear line, the rest is applied, and the next plan
// picks the edit up.
func TestSavedPlanSkipsMovedRecords(t *testing.T) {
	h := newHarness(t, demoConfig)
	planFile := filepath.Join(h.dir, "p.plan")
	h.mustRun(0, "plan", "-config", h.config, "-out", planFile)

	c, ok := h.ghl.Contact("Esa1KA9XSZ71YP2RYGyF")
	if !ok {
		t.Fatal("corpus contact missing")
	}
	c["firstName"] = "Andrea"
	h.ghl.PutContact(c)

	out, _ := h.mustRun(0, "apply", "-config", h.config, planFile)
	if !strings.Contains(out, "1 skipped (changed since plan)") {
		t.Errorf("want one change skipped:\n%s", tail(out, 5))
	}
	out, _ = h.mustRun(2, "plan", "-config", h.config, "-detailed-exitcode")
	if !strings.Contains(out, `"Andrea"`) || !strings.Contains(out, "Plan: 0 to create, 0 to update, 1 to link") {
		t.Errorf("next plan should link the skipped record with the new name:\n%s", tail(out, 12))
	}
}

// TestSavedPlanRefusedAfterConfigChange: a plan is only applied with the
// config it was made from, give or take comments and layout.
func TestSavedPlanRefusedAfterConfigChange(t *testing.T) {
	src, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, filepath.Join(t.TempDir(), "sync.hcl"))
	if err := os.WriteFile(h.config, src, 0o600); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(h.dir, "p.plan")
	h.mustRun(0, "plan", "-config", h.config, "-out", planFile)
	edited := strings.Replace(string(src), `"3000"`, `"2999"`, 1)
	if edited == string(src) {
		t.Fatal("the demo config has no rate limit to edit")
	}
	if err := os.WriteFile(h.config, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs := h.mustRun(1, "apply", "-config", h.config, planFile)
	if !strings.Contains(errs, "config changed since this plan was made") {
		t.Errorf("stderr: %s", errs)
	}
	if n := len(h.pb.Clients()); n != 369 {
		t.Errorf("apply of a refused plan wrote: %d clients, want 369", n)
	}

	// Comments and layout are not changes: the plan still applies.
	commented := "# reviewed in PR 12\n" + strings.ReplaceAll(string(src), "\n}", "\n\n}  # end\n")
	if err := os.WriteFile(h.config, []byte(commented), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun(0, "apply", "-config", h.config, planFile)
	if n := len(h.pb.Clients()); n == 369 {
		t.Errorf("the plan was not applied after a comment-only edit")
	}
}

// TestSecondApplyIsLockedOut: while one apply holds the state lock, a
// second fails at once with a message naming the holder.
func TestSecondApplyIsLockedOut(t *testing.T) {
	h := newHarness(t, demoConfig)
	st, err := state.OpenSQLite(context.Background(), h.env["BELLSYNC_STATE"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, err := st.Lock(context.Background(), "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	_, errs := h.mustRun(1, "apply", "-config", h.config, "-auto-approve")
	if !strings.Contains(errs, "locked by another bellsync process") || !strings.Contains(errs, "pid") {
		t.Errorf("stderr does not explain the lock: %s", errs)
	}
	if n := len(h.pb.Clients()); n != 369 {
		t.Errorf("a locked-out apply wrote: %d clients, want 369", n)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
}

// TestKilledApplyRerunMakesNoDuplicates kills a real bellsync process in
// the middle of an apply (SIGKILL: no cleanup, writes in flight) and checks
// that a rerun finishes the job without creating anything twice.
func TestKilledApplyRerunMakesNoDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "bellsync")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	h := newHarness(t, demoConfig)
	// Slow writes down so the kill lands while requests are in flight; the
	// emulator finishes a request whose client has died, which is the case
	// the journal exists for.
	h.pb.SetFaults(pbemu.Faults{Latency: 5 * time.Millisecond})
	cmd := exec.Command(bin, "apply", "-config", h.config, "-auto-approve", "-parallelism", "4")
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(h.pb.Clients()) < 369+100 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("apply made no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Let requests the dead process left in flight land.
	time.Sleep(50 * time.Millisecond)
	h.pb.SetFaults(pbemu.Faults{})
	partial := len(h.pb.Clients())
	if partial >= 369+644 {
		t.Fatalf("the kill came too late to test anything (%d clients)", partial)
	}

	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	noDuplicates(t, h.pb.Clients())
	if got, want := len(h.pb.Clients()), 369+644; got != want {
		t.Errorf("clients after rerun = %d, want %d", got, want)
	}
	h.mustRun(0, "plan", "-config", h.config, "-detailed-exitcode")
}

// editedPlan saves a plan of the harness's config, lets edit change its
// JSON, and writes it back, returning its path.
func (h *harness) editedPlan(t *testing.T, edit func(doc map[string]any)) string {
	t.Helper()
	planFile := filepath.Join(h.dir, "p.plan")
	h.mustRun(0, "plan", "-config", h.config, "-out", planFile)
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if data, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return planFile
}

// TestSwappedPlanLinksAreRefused: a saved plan edited so that two links
// pair the wrong records is refused whole, whether only the ids were
// swapped or the recorded records and fingerprints went with them.
func TestSwappedPlanLinksAreRefused(t *testing.T) {
	tests := []struct {
		name string
		keys []string // what of "target" side is swapped between two links
		want string
	}{
		{"ids only", []string{"target"}, "but was planned from"},
		{"ids and fingerprints", []string{"target", "snapshot"}, "but was planned from"},
		{"ids, fingerprints and records", []string{"target", "snapshot", "extra.target"}, "share no match key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, demoConfig)
			planFile := h.editedPlan(t, func(doc map[string]any) {
				var links []map[string]any
				for _, c := range doc["changes"].([]any) {
					if ch := c.(map[string]any); ch["action"] == "link" {
						links = append(links, ch)
					}
				}
				if len(links) < 2 {
					t.Fatal("the plan has fewer than two links to swap")
				}
				a, b := links[0], links[1]
				for _, k := range tc.keys {
					if k == "extra.target" {
						ea := a["extra"].(map[string]any)["value"].(map[string]any)
						eb := b["extra"].(map[string]any)["value"].(map[string]any)
						ea["target"], eb["target"] = eb["target"], ea["target"]
						continue
					}
					a[k], b[k] = b[k], a[k]
				}
			})
			_, errs := h.mustRun(1, "apply", "-config", h.config, planFile)
			if !strings.Contains(errs, "does not allow") || !strings.Contains(errs, tc.want) {
				t.Errorf("stderr does not explain the refusal (want %q):\n%s", tc.want, errs)
			}
			if n := len(h.pb.Clients()); n != 369 {
				t.Errorf("a tampered plan wrote: %d clients, want 369", n)
			}
			out, _ := h.mustRun(0, "state", "dump", "-config", h.config)
			if strings.Contains(out, `"source_id"`) {
				t.Errorf("a tampered plan made links:\n%s", tail(out, 20))
			}
		})
	}
}

// TestEditedPlanValuesAreRefused: a saved plan whose written values were
// edited (on a link or on a create) is refused whole: every value must be
// what the config's maps give for the records the change was planned from.
func TestEditedPlanValuesAreRefused(t *testing.T) {
	for _, action := range []string{"link", "create"} {
		t.Run(action, func(t *testing.T) {
			h := newHarness(t, demoConfig)
			planFile := h.editedPlan(t, func(doc map[string]any) {
				for _, c := range doc["changes"].([]any) {
					ch := c.(map[string]any)
					fields, _ := ch["fields"].([]any)
					if ch["action"] != action || len(fields) == 0 {
						continue
					}
					f := fields[0].(map[string]any)
					f["new"] = map[string]any{"value": "attacker@evil.example", "type": "string"}
					return
				}
				t.Fatalf("the plan has no %s with fields to edit", action)
			})
			_, errs := h.mustRun(1, "apply", "-config", h.config, planFile)
			if !strings.Contains(errs, "does not allow") || !strings.Contains(errs, "is not what the config gives") {
				t.Errorf("stderr does not explain the refusal:\n%s", errs)
			}
			for _, c := range h.pb.Clients() {
				if strings.Contains(c.Email+c.FirstName, "attacker") {
					t.Errorf("the edited value was written: %+v", c)
				}
			}
			if n := len(h.pb.Clients()); n != 369 {
				t.Errorf("a tampered plan wrote: %d clients, want 369", n)
			}
		})
	}
}

// TestTamperedPlanFileIsRefused: a saved plan edited to delete records the
// config protects (on_delete = "retain", no links) is refused whole.
func TestTamperedPlanFileIsRefused(t *testing.T) {
	h := newHarness(t, demoConfig)
	planFile := filepath.Join(h.dir, "p.plan")
	h.mustRun(0, "plan", "-config", h.config, "-out", planFile)
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"action": "link"`, `"action": "delete"`, 3)
	if edited == string(data) {
		t.Fatal("the plan file has no link to tamper with")
	}
	if err := os.WriteFile(planFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs := h.mustRun(1, "apply", "-config", h.config, planFile)
	if !strings.Contains(errs, "does not allow") || !strings.Contains(errs, `on_delete is "retain"`) {
		t.Errorf("stderr does not explain the refusal:\n%s", errs)
	}
	if n := len(h.pb.Clients()); n != 369 {
		t.Errorf("a tampered plan wrote: %d clients, want 369", n)
	}
}
