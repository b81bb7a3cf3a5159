package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/unicode/norm"

	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

const seedDir = "../../examples/demo/seed"

// demoConfig is the config `make demo` runs; the harness lifts its
// Paperbell rate limit through PAPERBELL_RATE_LIMIT.
const demoConfig = "../../examples/demo/sync.hcl"

// harness runs the real CLI against both emulators over loopback HTTP.
type harness struct {
	t      *testing.T
	ghl    *ghlemu.Server
	pb     *pbemu.Server
	dir    string
	config string
	env    map[string]string
}

func newHarness(t *testing.T, config string) *harness {
	t.Helper()
	return harnessOn(t, config, seedDir, nil)
}

// harnessOn starts both emulators seeded from dir (ghl/ and paperbell/)
// and sets the environment the example configs read, plus extra.
func harnessOn(t *testing.T, config, dir string, extra map[string]string) *harness {
	t.Helper()
	g := ghlemu.New(ghlemu.Options{RateLimit: 100000})
	if err := g.LoadDir(filepath.Join(dir, "ghl")); err != nil {
		t.Fatalf("load ghl seed: %v", err)
	}
	p := pbemu.New(pbemu.Options{RateLimit: -1})
	if err := p.LoadDir(filepath.Join(dir, "paperbell")); err != nil {
		t.Fatalf("load paperbell seed: %v", err)
	}
	gs, ps := httptest.NewServer(g), httptest.NewServer(p)
	t.Cleanup(gs.Close)
	t.Cleanup(ps.Close)
	state := t.TempDir()
	h := &harness{t: t, ghl: g, pb: p, dir: state, config: config, env: map[string]string{
		"GHL_BASE_URL": gs.URL, "GHL_LOCATION_ID": ghlemu.DefaultLocationID, "GHL_TOKEN": ghlemu.DefaultToken,
		"PAPERBELL_BASE_URL": ps.URL, "PAPERBELL_API_KEY": pbemu.DefaultAPIKey,
		"BELLSYNC_STATE":       filepath.Join(state, "state.db"),
		"PAPERBELL_RATE_LIMIT": "1000000",
	}}
	for k, v := range extra {
		h.env[k] = v
	}
	for k, v := range h.env {
		t.Setenv(k, v)
	}
	return h
}

// bellsync runs one CLI command in-process.
func (h *harness) bellsync(args ...string) (int, string, string) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb,
		env: func(k string) string { return h.env[k] }})
	return code, out.String(), errb.String()
}

func (h *harness) mustRun(want int, args ...string) (string, string) {
	h.t.Helper()
	code, out, errs := h.bellsync(args...)
	if code != want {
		h.t.Fatalf("bellsync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, tail(out, 40), errs)
	}
	return out, errs
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type jsonPlanOut struct {
	Changes []struct {
		Sync    string `json:"sync"`
		Action  string `json:"action"`
		Label   string `json:"label"`
		Problem string `json:"problem"`
		Reason  string `json:"reason"`
		Source  struct {
			ID string `json:"id"`
		} `json:"source"`
		Target struct {
			ID string `json:"id"`
		} `json:"target"`
		Fields []struct {
			Field  string          `json:"field"`
			New    json.RawMessage `json:"new"`
			Origin string          `json:"origin"`
		} `json:"fields"`
	} `json:"changes"`
	Summary map[string]int `json:"summary"`
}

func (h *harness) planJSON() jsonPlanOut {
	h.t.Helper()
	out, _ := h.mustRun(0, "plan", "-config", h.config, "-json")
	var p jsonPlanOut
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		h.t.Fatalf("plan -json is not JSON: %v\n%s", err, tail(out, 20))
	}
	return p
}

// TestContactsCorpus runs the one-way contacts sync over the whole corpus
// and checks every edge case listed in the corpus's expected.json.
func TestContactsCorpus(t *testing.T) {
	h := newHarness(t, demoConfig)
	before := len(h.pb.Clients())

	p := h.planJSON()
	byID := map[string]int{}
	for i, c := range p.Changes {
		byID[c.Source.ID] = i
	}
	problem := func(id string) string {
		i, ok := byID[id]
		if !ok {
			return ""
		}
		return p.Changes[i].Action + ": " + p.Changes[i].Problem
	}
	for _, tc := range []struct {
		name, id, want string
	}{
		{"Maria.Lopez@Example.com is ambiguous", "moSHqh07fd7EWGlrPQrI", "error: ambiguous identity"},
		{"'maria.lopez@example.com ' is ambiguous", "ygZrDHcXxmG3MTUknTwC", "error: ambiguous identity"},
		{"no email and no phone is skipped", "agtyCT9y8iMYaiSyHayH", "error: no identifier"},
		{"not-an-email is a per-record error", "Y2zD3LkqHgWQjBU5JzUw", `error: invalid email address "not-an-email"`},
		{"jane@@example.com is a per-record error", "cm3uneIecHWjaVVflfOj", `error: invalid email address "jane@@example.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problem(tc.id); !strings.HasPrefix(got, tc.want) {
				t.Errorf("plan for %s: got %q, want prefix %q", tc.id, got, tc.want)
			}
		})
	}
	if i, ok := byID["QQjdC0JsQCTzfy1xTUns"]; !ok || p.Changes[i].Action != "link" || p.Changes[i].Target.ID != "79212713" {
		t.Errorf("priya.work@example.com: want a link to Paperbell client 79212713 (additional email), got %+v", p.Changes[byID["QQjdC0JsQCTzfy1xTUns"]])
	}
	if i, ok := byID["MgkFrxh5oOBAfLntOjiO"]; !ok || p.Changes[i].Action != "link" || p.Changes[i].Target.ID != "31670638" {
		t.Errorf("NFD José García: want a link to Paperbell client 31670638, got %+v", p.Changes[byID["MgkFrxh5oOBAfLntOjiO"]])
	}
	if p.Summary["link"] < 317 {
		t.Errorf("links = %d, want at least the 317 contacts present on both sides", p.Summary["link"])
	}

	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")

	// A second plan right after apply has nothing to write.
	out, _ := h.mustRun(0, "plan", "-config", h.config, "-detailed-exitcode")
	if !strings.Contains(out, "0 to create, 0 to update, 0 to link") {
		t.Errorf("second plan is not empty:\n%s", tail(out, 15))
	}

	clients := h.pb.Clients()
	byEmail := map[string][]pbemu.Client{}
	for _, c := range clients {
		byEmail[strings.ToLower(strings.TrimSpace(c.Email))] = append(byEmail[strings.ToLower(strings.TrimSpace(c.Email))], c)
	}
	for e, cs := range byEmail {
		if e != "" && len(cs) > 1 {
			t.Errorf("duplicate Paperbell clients for %q: %d", e, len(cs))
		}
	}
	if n := len(byEmail["maria.lopez@example.com"]); n > 1 {
		t.Errorf("maria.lopez@example.com: %d clients, want at most one", n)
	}
	if got := byEmail["john.smith@example.com"]; len(got) != 1 {
		t.Errorf("' JOHN.SMITH@EXAMPLE.COM ' should become one client john.smith@example.com, got %d", len(got))
	}
	if got := byEmail["tag.mess@example.com"]; len(got) != 1 || cmp.Diff([]string{"lead", "vip"}, got[0].Tags) != "" {
		t.Errorf("tag normalisation: got %+v, want tags [lead vip]", got)
	}
	if got := byEmail["priya.work@example.com"]; len(got) != 0 {
		t.Errorf("priya.work@example.com made a new client: %+v", got)
	}
	var phoneOnly []pbemu.Client
	for _, c := range clients {
		if c.Phone == "+14155550132" {
			phoneOnly = append(phoneOnly, c)
		}
	}
	if len(phoneOnly) != 1 || phoneOnly[0].FirstName != "Dev" {
		t.Errorf("phone-only contact Dev Patel: got %+v, want one client with phone +14155550132", phoneOnly)
	}
	// Names in any script, emoji and very long names arrive byte for byte.
	for _, c := range h.ghl.Contacts() {
		if c["source"] != "manual entry" || c.Email() == "" {
			continue
		}
		got := byEmail[strings.ToLower(strings.TrimSpace(c.Email()))]
		if len(got) != 1 || strings.Contains(c.Email(), "@@") || !strings.Contains(c.Email(), "@") {
			continue
		}
		// cty keeps strings in Unicode normal form C, so an NFD name arrives
		// in its canonically equal NFC form.
		if got[0].FirstName != norm.NFC.String(str(c["firstName"])) || got[0].LastName != norm.NFC.String(str(c["lastName"])) {
			t.Errorf("%s: name %q %q arrived as %q %q", c.ID(), c["firstName"], c["lastName"], got[0].FirstName, got[0].LastName)
		}
	}
	created := len(clients) - before
	if created < 500 {
		t.Errorf("created %d Paperbell clients, want the ~600 GHL-only contacts", created)
	}
}

// TestValidateErrors feeds the CLI bad input a new user would write.
func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GHL_BASE_URL": "http://127.0.0.1:1", "GHL_LOCATION_ID": "L", "GHL_TOKEN": "t",
		"PAPERBELL_BASE_URL": "http://127.0.0.1:2", "PAPERBELL_API_KEY": "k"}
	for _, tc := range []struct {
		name   string
		body   string
		unset  string
		want   []string
		status int
	}{
		{name: "valid", body: string(good), status: 0},
		{name: "malformed", body: "sync \"x\" {\n  source = \n}\n", status: 1, want: []string{"malformed.hcl:"}},
		{name: "unknown attribute", body: strings.Replace(string(good), "on_delete", "on_delet", 1), status: 1, want: []string{"on_delet"}},
		{name: "unknown field", body: strings.Replace(string(good), "source.firstName", "source.firstname", 1), status: 1, want: []string{"firstname"}},
		{name: "missing env var", body: string(good), unset: "GHL_TOKEN", status: 1, want: []string{"GHL_TOKEN"}},
		{name: "http to a remote host", body: strings.Replace(string(good), `env("PAPERBELL_BASE_URL")`, `"http://paperbell.example.com"`, 1), status: 1, want: []string{"https"}},
		// Reads as a sentence, as GHL's does; it used to say "The base_url not a URL".
		{name: "paperbell base_url not a URL", body: strings.Replace(string(good), `env("PAPERBELL_BASE_URL")`, `"http://[::1"`, 1), status: 1,
			want: []string{`The Paperbell base_url is not usable: not a URL: parse "http://[::1": missing ']' in host.`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "_")+".hcl", tc.body)
			for k, v := range env {
				if k == tc.unset {
					t.Setenv(k, "")
					os.Unsetenv(k)
					continue
				}
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"validate", "-config", p}, stdio{in: strings.NewReader(""), out: &out, err: &errb})
			if code != tc.status {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.status, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not mention %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestCustomFieldsArriveWhole: array-valued custom fields and the date of
// birth, which Paperbell has no field for, reach it in a profile note
// without loss; Kai (email "") is identified by phone.
func TestCustomFieldsArriveWhole(t *testing.T) {
	h := newHarness(t, profileConfig(t))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	var ana, kai *pbemu.Client
	for _, c := range h.pb.Clients() {
		c := c
		switch {
		case c.Email == "ana.silva@example.pt":
			ana = &c
		case c.Phone == "+14155550177":
			kai = &c
		}
	}
	if ana == nil {
		t.Fatal("Ana Silva was not created in Paperbell")
	}
	notes := h.pb.Notes(ana.ID)
	if len(notes) != 1 {
		t.Fatalf("Ana Silva has %d notes, want the one profile note", len(notes))
	}
	for _, want := range []string{"Date of birth: 1990-09-25", "Goal: Run a marathon", "Focus: mindset, nutrition",
		`"FFMFoNYvGQncIUBil7eb":["mindset","nutrition"]`} {
		if !strings.Contains(notes[0].Content, want) {
			t.Errorf("profile note lacks %q:\n%s", want, notes[0].Content)
		}
	}
	if kai == nil || kai.Email != "" || kai.FirstName != "Kai" {
		t.Errorf("Kai Nakamura (empty email, phone only) should be one client with no email, got %+v", kai)
	}
	// Applying again creates no second profile note.
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	if n := len(h.pb.Notes(ana.ID)); n != 1 {
		t.Errorf("after a second apply Ana Silva has %d notes, want 1", n)
	}
}

// TestBadCredentialsAndGarbage: a wrong token and an API that answers
// garbage give clear errors that never show the credential.
func TestBadCredentialsAndGarbage(t *testing.T) {
	t.Run("wrong GHL token", func(t *testing.T) {
		h := newHarness(t, demoConfig)
		h.env["GHL_TOKEN"] = "pit-wrong-token-1234"
		t.Setenv("GHL_TOKEN", "pit-wrong-token-1234")
		out, errs := h.mustRun(1, "plan", "-config", h.config)
		all := out + errs
		if !strings.Contains(all, "ghl") || !strings.Contains(strings.ToLower(all), "token") {
			t.Errorf("the error does not explain the token problem:\n%s", tail(all, 10))
		}
		if strings.Contains(all, "pit-wrong-token-1234") {
			t.Errorf("the token was printed:\n%s", all)
		}
	})
	t.Run("Paperbell answers garbage", func(t *testing.T) {
		h := newHarness(t, demoConfig)
		h.pb.SetFaults(pbemu.Faults{GarbageRate: 1})
		out, errs := h.mustRun(1, "plan", "-config", h.config)
		all := out + errs
		if !strings.Contains(all, "not JSON") || !strings.Contains(all, "incomplete") {
			t.Errorf("want a clear not-JSON error and an incomplete plan:\n%s", tail(all, 10))
		}
		if n := len(h.pb.Clients()); n != 369 {
			t.Errorf("a garbage answer led to writes: %d clients", n)
		}
	})
}

// TestShippedConfigsAreFormatted: every config we ship passes fmt -check,
// and fmt refuses a file that does not parse instead of rewriting it.
func TestShippedConfigsAreFormatted(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/sync.hcl")
	files = append(files, "../../sync.hcl.example")
	more, _ := filepath.Glob("testdata/*.hcl")
	files = append(files, more...)
	for _, f := range files {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"fmt", "-check", f}, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != 0 {
			t.Errorf("%s is not formatted (run bellsync fmt %s): %s%s", f, f, out.String(), errb.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte("sync \"x\" {\n  source = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"fmt", bad}, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != 1 {
		t.Errorf("fmt of broken HCL: exit %d, want 1", code)
	}
	if got, _ := os.ReadFile(bad); string(got) != "sync \"x\" {\n  source = \n" {
		t.Errorf("fmt rewrote a file it could not parse: %q", got)
	}
}

// profileConfig is the demo config plus an on_create rule that writes a
// profile note: custom fields and date of birth, which Paperbell has no
// field for, go into it without loss.
func profileConfig(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	const rule = `  on_delete = "retain"

  on_create {
    create "paperbell" "notes" {
      content    = "Date of birth: ${coalesce(source.dateOfBirth, "unknown")}\nGoal: ${try(source.customFields["c22i4cIBh7QBgpvb4QVM"], "none")}\nFocus: ${try(join(", ", source.customFields["FFMFoNYvGQncIUBil7eb"]), "none")}\nAll custom fields: ${jsonencode(source.customFields)}"
      visibility = "private"
    }
  }`
	s := strings.Replace(string(src), `  on_delete = "retain"`, rule, 1)
	if s == string(src) {
		t.Fatal("the demo config no longer has the on_delete line this test extends")
	}
	p := filepath.Join(t.TempDir(), "profile.hcl")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
