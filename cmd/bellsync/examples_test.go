package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleEnv is what the shipped configs read beyond the harness's
// endpoints and credentials: lifted rate limits, the Zapier secret, and
// files holding GHL's published webhook keys (sync.hcl.example).
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return map[string]string{
		"GHL_RATE_LIMIT":          "100000",
		"PAPERBELL_RATE_LIMIT":    "1000000",
		"BELLSYNC_ZAP_SECRET":     "example-zap-secret",
		"GHL_WEBHOOK_ED25519_PEM": abs("testdata/webhook/ghl-ed25519.pem"),
		"GHL_WEBHOOK_RSA_PEM":     abs("testdata/webhook/ghl-rsa.pem"),
		"GHL_CLIENT_ID":           "example-client-id",
		"GHL_CLIENT_SECRET":       "example-client-secret",
		"GHL_COMPANY_ID":          "example-company",
	}
}

func newExampleHarness(t *testing.T, config string) *harness {
	t.Helper()
	h := newHarness(t, config)
	for k, v := range exampleEnv(t) {
		h.env[k] = v
		t.Setenv(k, v)
	}
	return h
}

// TestExamples validates every shipped config and plans it against both
// emulators seeded from the corpus over real HTTP: the plan must have
// changes (exit 2 with -detailed-exitcode), be valid JSON, and report no
// per-record problems beyond the corpus's known edge cases.
func TestExamples(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		syncs        []string
	}{
		{"demo", "../../examples/demo/sync.hcl", []string{"contacts"}},
		{"full", "../../examples/full/sync.hcl", []string{"contacts", "tasks", "notes"}},
		{"notes-backfill", "../../examples/notes-backfill/sync.hcl", []string{"contacts", "notes"}},
		{"sync.hcl.example", "../../sync.hcl.example", []string{"contacts", "tasks", "notes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newExampleHarness(t, tc.config)
			out, errs := h.mustRun(0, "validate", "-config", tc.config)
			if !strings.Contains(out+errs, "is valid") {
				t.Errorf("validate output: %s%s", out, errs)
			}
			js, _ := h.mustRun(2, "plan", "-config", tc.config, "-json", "-detailed-exitcode")
			var p missionPlan
			if err := json.Unmarshal([]byte(js), &p); err != nil {
				t.Fatalf("plan -json is not JSON: %v\n%s", err, tail(js, 20))
			}
			if bad := p.unexpectedProblems(); len(bad) > 0 {
				t.Errorf("unexpected per-record problems:\n%s", strings.Join(bad, "\n"))
			}
			seen := map[string]bool{}
			for _, c := range p.writes() {
				seen[c.Sync] = true
			}
			for _, s := range tc.syncs {
				if !seen[s] {
					t.Errorf("the plan writes nothing for sync %q", s)
				}
			}
		})
	}
}

// TestExampleOAuthAlternative uncomments the oauth block of
// sync.hcl.example (and drops token, which it replaces) and validates the
// result, so the documented alternative cannot rot.
func TestExampleOAuthAlternative(t *testing.T) {
	src, err := os.ReadFile("../../sync.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start := strings.Index(s, "  # oauth {")
	end := strings.Index(s[start:], "  # }\n")
	if start < 0 || end < 0 {
		t.Fatal("sync.hcl.example has no commented oauth block")
	}
	end += start + len("  # }\n")
	var lines []string
	for _, l := range strings.SplitAfter(s[start:end], "\n") {
		lines = append(lines, strings.Replace(l, "# ", "", 1))
	}
	s = s[:start] + strings.Join(lines, "") + s[end:]
	if !strings.Contains(s, "  token = env(\"GHL_TOKEN\")\n") {
		t.Fatal("sync.hcl.example has no token line")
	}
	s = strings.Replace(s, "  token = env(\"GHL_TOKEN\")\n", "", 1)

	dir := t.TempDir()
	p := filepath.Join(dir, "sync.hcl")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newExampleHarness(t, p)
	for _, userType := range []string{"Location", "Company"} {
		body := strings.Replace(s, `user_type     = "Location"`, `user_type     = "`+userType+`"`, 1)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, errs := h.bellsync("validate", "-config", p); code != 0 {
			t.Errorf("user_type %s: validate = %d\n%s%s\n--- config:\n%s", userType, code, out, errs, s[start:start+2000])
		}
	}
}

// TestNotesBackfillExample applies examples/notes-backfill on a slice of
// the corpus (smallSeed): notes end up on both sides of every linked pair,
// the 52 kB and HTML notes byte for byte, existing clients are not
// rewritten, and a second plan is empty.
func TestNotesBackfillExample(t *testing.T) {
	h := newSeededHarness(t, "../../examples/notes-backfill/sync.hcl", smallSeed(t, 60, 5))
	seedBig, seedHTML := pbNoteByID(t, h.pb, bigNoteID), pbNoteByID(t, h.pb, htmlNoteID)
	before := map[string]string{}
	for _, c := range h.pb.Clients() {
		before[c.ID] = c.FirstName + "\x00" + c.LastName + "\x00" + c.Email + "\x00" + c.Phone
	}
	out, _ := h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	if !strings.Contains(out, "0 failed") {
		t.Errorf("apply:\n%s", tail(out, 5))
	}
	h.emptyPlan(t)
	checkNotesMirrored(t, h)
	checkNoteArrived(t, h, seedBig.Content)
	checkNoteArrived(t, h, seedHTML.Content)
	// Existing clients are linked, never rewritten (ignore_changes).
	for _, c := range h.pb.Clients() {
		if was, ok := before[c.ID]; ok && was != c.FirstName+"\x00"+c.LastName+"\x00"+c.Email+"\x00"+c.Phone {
			t.Errorf("existing client %s was rewritten: %q -> %q %q %q %q", c.ID, was, c.FirstName, c.LastName, c.Email, c.Phone)
		}
	}
}

// TestWelcomeTaskDueAfterCreation: the shipped welcome task is due three
// days after its client was created, whatever the GHL contact's age: its
// due_date reads target.created_at, the client just made. With
// source.dateAdded, a contact from years before the first sync got a task
// due years ago.
func TestWelcomeTaskDueAfterCreation(t *testing.T) {
	for _, config := range []string{"../../examples/full/sync.hcl", "../../sync.hcl.example"} {
		t.Run(filepath.Base(config), func(t *testing.T) {
			h := newSeededHarness(t, config, smallSeed(t, 8, 0))
			for k, v := range exampleEnv(t) {
				h.env[k] = v
				t.Setenv(k, v)
			}
			before := map[string]bool{}
			for _, c := range h.pb.Clients() {
				before[c.ID] = true
			}
			h.mustRun(0, "apply", "-config", config, "-auto-approve")
			n := 0
			for _, c := range h.pb.Clients() {
				if before[c.ID] {
					continue
				}
				for _, tk := range h.pb.Tasks(c.ID) {
					if !strings.HasPrefix(tk.Title, "Welcome ") {
						continue
					}
					n++
					want := c.CreatedAt.Add(72 * time.Hour)
					if tk.DueDate == nil || tk.DueDate.Sub(want).Abs() > time.Second {
						t.Errorf("client %s created %s: welcome task due %v, want %s", c.ID, c.CreatedAt, tk.DueDate, want)
					}
				}
			}
			if n == 0 {
				t.Fatal("the apply created no welcome task to check")
			}
		})
	}
}
