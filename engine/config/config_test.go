package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
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

func TestParseFull(t *testing.T) {
	t.Setenv("BELLSYNC_TEST_STATE_DIR", "var/state.db")
	path := filepath.Join("testdata", "valid", "full.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, diags := Parse(path, src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	dir := filepath.Join("testdata", "valid")
	want := &Config{
		Filename: path,
		BaseDir:  dir,
		Hash:     meaningHash(src, path),
		State:    &State{Backend: "sqlite", Path: filepath.Join(dir, "var", "state.db")},
		Providers: []*Provider{
			{Type: "ghl"},
			{Type: "paperbell"},
		},
		Syncs: []*Sync{
			{
				Name:      "contacts",
				Source:    Ref{Provider: "ghl", Kind: "contacts"},
				Target:    Ref{Provider: "paperbell", Kind: "contacts"},
				Direction: "two_way",
				Conflict:  "newest_wins",
				Match:     []*MatchKey{{Name: "email"}, {Name: "phone"}},
				Map: []*Mapping{
					{Field: "last_name"}, {Field: "first_name"}, {Field: "email"}, {Field: "phone"}, {Field: "tags"},
				},
				ReverseMap:    []*Mapping{{Field: "firstName"}, {Field: "lastName"}},
				IgnoreChanges: []string{"time_zone"},
				// The ranges are checked by TestIgnoreChangesRanges.
				IgnoreChangesRanges: map[string]hcl.Range{"time_zone": {}},
				OnDelete:            "retain",
				MaxDeletes:          "10%",
				OnCreate: []*CreateRule{{
					Provider: "paperbell",
					Kind:     "tasks",
					Attrs:    []*Mapping{{Field: "title"}, {Field: "due_date"}},
				}},
			},
			{
				Name:       "tasks",
				Source:     Ref{Provider: "paperbell", Kind: "tasks"},
				Target:     Ref{Provider: "ghl", Kind: "tasks"},
				Direction:  "one_way",
				Parent:     "contacts",
				Map:        []*Mapping{{Field: "title"}, {Field: "completed"}},
				OnDelete:   "retain",
				MaxDeletes: "25",
			},
		},
		Schedule: &Schedule{
			Cron:         "*/15 * * * *",
			TimeZone:     "Europe/Madrid",
			FullEvery:    "12h",
			FullInterval: 12 * time.Hour,
		},
		Webhooks: &Webhooks{Listen: "127.0.0.1:8080", MaxBody: DefaultMaxBody, PathPrefix: DefaultPathPrefix},
	}
	opts := cmp.Options{
		cmpopts.IgnoreTypes(hcl.Range{}),
		cmpopts.IgnoreInterfaces(struct{ hcl.Expression }{}),
		cmpopts.IgnoreInterfaces(struct{ hcl.Body }{}),
		cmpopts.IgnoreInterfaces(struct{ cron.Schedule }{}),
		cmpopts.IgnoreFields(Schedule{}, "Location"),
		cmpopts.IgnoreFields(Webhooks{}, "GHLPublicKey", "GHLRSAPublicKey"),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}

	// What the ignores above hide, checked where it matters.
	if got.Schedule.Location.String() != "Europe/Madrid" || got.Schedule.Spec == nil {
		t.Errorf("schedule not loaded: location %v, spec %v", got.Schedule.Location, got.Schedule.Spec)
	}
	if m := got.Syncs[0].Map[1]; m.Range.Start.Line != 36 || m.Expr == nil {
		t.Errorf("first_name mapping: range %s, expr %v; want line 36 and an expression", m.Range, m.Expr)
	}
	if len(got.Webhooks.GHLPublicKey) != 32 {
		t.Errorf("ghl_public_key not loaded: %d bytes, want an Ed25519 key", len(got.Webhooks.GHLPublicKey))
	}
	if got.Providers[0].Body == nil || got.Webhooks.Body == nil {
		t.Error("provider and webhooks bodies must be kept for later decoding")
	}
}

// TestFullRecordExpressions evaluates the fixture's record expressions
// against corpus records, as the engine will.
func TestFullRecordExpressions(t *testing.T) {
	cfg, diags := Load(filepath.Join("testdata", "valid", "full.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	contacts := cfg.Sync("contacts")
	ghl := cty.ObjectVal(map[string]cty.Value{
		"firstName": cty.StringVal("John"),
		"lastName":  cty.StringVal("Smith"),
		"email":     cty.StringVal(" JOHN.SMITH@EXAMPLE.COM "),
		"phone":     cty.StringVal("+12125550143"),
		"tags":      cty.ListVal([]cty.Value{cty.StringVal(" VIP"), cty.StringVal("vip"), cty.StringVal("Lead "), cty.StringVal("")}),
		"dateAdded": cty.StringVal("2026-03-02T15:04:05.250Z"),
	})
	paperbell := cty.ObjectVal(map[string]cty.Value{
		"email":             cty.StringVal("priya.raman@example.com"),
		"additional_emails": cty.ListVal([]cty.Value{cty.StringVal("Priya.Work@example.com")}),
		"phone":             cty.StringVal("(415) 555-0190"),
	})
	evalCtx := EvalContext(map[string]cty.Value{"source": ghl, "target": paperbell}, cfg.BaseDir)

	got := map[string]string{}
	eval := func(name string, expr hcl.Expression) {
		v, diags := expr.Value(evalCtx)
		if diags.HasErrors() {
			t.Errorf("%s: %s", name, diags.Error())
			return
		}
		got[name] = v.GoString()
	}
	for _, k := range contacts.Match {
		eval("match."+k.Name+".source", k.Source)
		eval("match."+k.Name+".target", k.Target)
	}
	for _, m := range contacts.Map {
		eval("map."+m.Field, m.Expr)
	}
	for _, m := range contacts.OnCreate[0].Attrs {
		eval("create."+m.Field, m.Expr)
	}
	want := map[string]string{
		"match.email.source": `cty.StringVal("john.smith@example.com")`,
		"match.email.target": `cty.TupleVal([]cty.Value{cty.StringVal("priya.raman@example.com"), cty.StringVal("priya.work@example.com")})`,
		"match.phone.source": `cty.StringVal("+12125550143")`,
		"match.phone.target": `cty.StringVal("+14155550190")`,
		"map.first_name":     `cty.StringVal("John")`,
		"map.last_name":      `cty.StringVal("Smith")`,
		"map.email":          `cty.StringVal("john.smith@example.com")`,
		"map.phone":          `cty.StringVal("+12125550143")`,
		"map.tags":           `cty.ListVal([]cty.Value{cty.StringVal("lead"), cty.StringVal("vip")})`,
		"create.title":       `cty.StringVal("Welcome John")`,
		"create.due_date":    `cty.StringVal("2026-03-05T15:04:05Z")`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record expressions (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	src := []byte(`
provider "ghl" {}
provider "paperbell" {}
sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts
}
schedule { cron = "@hourly" }
webhooks {}
`)
	cfg, diags := Parse(filepath.Join("conf", "sync.hcl"), src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got := []string{
		cfg.State.Backend, cfg.State.Path,
		cfg.Syncs[0].Direction, cfg.Syncs[0].OnDelete, cfg.Syncs[0].MaxDeletes,
		cfg.Schedule.TimeZone, cfg.Schedule.FullEvery, cfg.Schedule.FullInterval.String(),
		cfg.Webhooks.Listen,
	}
	want := []string{
		"sqlite", filepath.Join("conf", ".bellsync", "state.db"),
		"one_way", "retain", "",
		"UTC", "24h", "24h0m0s",
		"127.0.0.1:8080",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestSuggestions(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want string
	}{
		{"block type", `syncs "x" {}`, `Did you mean "sync"?`},
		{"sync attribute", `sync "x" { sorce = ghl.contacts }`, `Did you mean "source"?`},
		{"direction value", `sync "x" { direction = "one-way" }`, `Did you mean "one_way"?`},
		{"provider name", "provider \"ghl\" {}\nsync \"x\" {\n source = gh.contacts\n target = ghl.tasks\n}", `Did you mean "ghl"?`},
		{"record variable", "sync \"x\" {\n map {\n  first_name = sourc.firstName\n }\n}", `There is no variable named "sourc". A map entry can refer to "source" or "target". Did you mean "source"?`},
		{"the other side in a match key", "sync \"x\" {\n match {\n  key \"email\" {\n   source = source.email\n   target = source.email\n  }\n }\n}",
			`The target of match key "email" is computed from target alone, so it cannot refer to source.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("sync.hcl", []byte(tc.src))
			for _, d := range diags {
				if strings.Contains(d.Detail, tc.want) {
					return
				}
			}
			t.Errorf("no diagnostic suggests %s; got:\n%s", tc.want, diags.Error())
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.hcl")
	cfg, diags := Load(path)
	if cfg != nil {
		t.Errorf("Load returned a config for a missing file")
	}
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got %v", diags)
	}
	d := diags[0]
	got := []string{d.Summary, d.Subject.Filename}
	want := []string{"Config file not found", path}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostic (-want +got):\n%s", diff)
	}
	if !strings.Contains(d.Detail, path) || !strings.Contains(d.Detail, "-config FILE") {
		t.Errorf("detail %q must name the path and the -config flag", d.Detail)
	}
}

func TestSyncOrder(t *testing.T) {
	cfg := &Config{Syncs: []*Sync{
		{Name: "notes", Parent: "contacts"},
		{Name: "tasks", Parent: "contacts"},
		{Name: "contacts"},
	}}
	var got []string
	for _, s := range cfg.SyncOrder() {
		got = append(got, s.Name)
	}
	if diff := cmp.Diff([]string{"contacts", "notes", "tasks"}, got); diff != "" {
		t.Errorf("SyncOrder (-want +got):\n%s", diff)
	}
}

func TestDeleteLimit(t *testing.T) {
	cases := []struct {
		max    string
		total  int
		want   int
		wantOK bool
	}{
		{"", 100, 0, false},
		{"25", 100, 25, true},
		{"10%", 100, 10, true},
		{"10%", 9, 0, true},
		{"100%", 7, 7, true},
	}
	for _, tc := range cases {
		t.Run(tc.max, func(t *testing.T) {
			n, ok := (&Sync{MaxDeletes: tc.max}).DeleteLimit(tc.total)
			if diff := cmp.Diff([]any{tc.want, tc.wantOK}, []any{n, ok}); diff != "" {
				t.Errorf("DeleteLimit(%d) (-want +got):\n%s", tc.total, diff)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	got := string(Format([]byte("sync \"a\" {\nsource=ghl.contacts\n  target    = paperbell.contacts\n}\n")))
	want := "sync \"a\" {\n  source = ghl.contacts\n  target = paperbell.contacts\n}\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}
}

// TestHashIgnoresCommentsAndLayout: the hash a saved plan is checked
// against changes with what the config says, not with how it is written.
func TestHashIgnoresCommentsAndLayout(t *testing.T) {
	const base = "sync \"contacts\" {\n  source = ghl.contacts\n  on_delete = \"retain\"\n}\n"
	tests := []struct {
		name string
		src  string
		same bool
	}{
		{"identical", base, true},
		{"line comment", "# who owns this\n" + base, true},
		{"trailing comment", strings.Replace(base, "ghl.contacts\n", "ghl.contacts // from GHL\n", 1), true},
		{"block comment", strings.Replace(base, "source", "/* x */ source", 1), true},
		{"blank lines and indentation", "\n\n" + strings.ReplaceAll(base, "\n  ", "\n\n      "), true},
		{"alignment", strings.Replace(base, "source =", "source    =", 1), true},
		{"CRLF", strings.ReplaceAll(base, "\n", "\r\n"), true},
		{"value changed", strings.Replace(base, "retain", "suspend", 1), false},
		{"attribute renamed", strings.Replace(base, "source", "target", 1), false},
		{"comment marker inside a string", strings.Replace(base, `"retain"`, `"retain # no"`, 1), false},
		{"two attributes joined", strings.Replace(base, "ghl.contacts\n  on_delete", "ghl.contacts on_delete", 1), false},
	}
	want := meaningHash([]byte(base), "a.hcl")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := meaningHash([]byte(tc.src), "a.hcl"); (got == want) != tc.same {
				t.Errorf("same hash = %v, want %v for:\n%s", got == want, tc.same, tc.src)
			}
		})
	}
}
