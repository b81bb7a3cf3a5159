package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func samplePlan() *Plan {
	str := cty.StringVal
	return &Plan{
		ConfigHash: "abc123", ConfigFile: "sync.hcl", CreatedAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		Complete: true, Unchanged: map[string]int{"contacts": 3},
		Changes: []Change{
			{Sync: "contacts", Action: Create, Side: SideTarget, Label: "ann@example.com",
				Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g1"}, Target: Ref{Provider: "paperbell", Kind: "contacts"},
				Reason: "no linked or matching paperbell.contacts record", Origin: "sync.hcl:12",
				Fields: []FieldChange{
					{Field: "first_name", Old: cty.NullVal(cty.String), New: str("Ann 🙂"), Origin: "sync.hcl:20", Reason: "new record"},
					{Field: "tags", Old: cty.NullVal(cty.List(cty.String)), New: cty.ListVal([]cty.Value{str("lead"), str("vip")}), Origin: "sync.hcl:24", Reason: "new record"},
				}},
			{Sync: "contacts", Action: Update, Side: SideTarget, Label: "bo@example.com",
				Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g2"}, Target: Ref{Provider: "paperbell", Kind: "contacts", ID: "p2"},
				Reason: "linked", Origin: "sync.hcl:12",
				Fields: []FieldChange{
					{Field: "phone", Old: str("(415) 555-0190"), New: str("+14155550190"), Origin: "sync.hcl:22", Reason: "source changed"},
					{Field: "api_key", Old: str("s3cr3t-old"), New: str("s3cr3t-new"), Origin: "sync.hcl:23", Reason: "source changed", Sensitive: true},
				}},
			{Sync: "contacts", Action: Link, Side: SideTarget, Label: "priya.work@example.com",
				Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g3"}, Target: Ref{Provider: "paperbell", Kind: "contacts", ID: "79212713"},
				Reason: `matched by email "priya.work@example.com"`, Origin: "sync.hcl:12"},
			{Sync: "contacts", Action: Skip, Side: SideTarget,
				Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g4"}, Target: Ref{Provider: "paperbell", Kind: "contacts"},
				Problem: "no identifier: the record has no value for any match key (email, phone)"},
		},
	}
}

// incompletePlan is what the engine makes when one sync's listing failed:
// the other syncs' changes, and a warning naming the one left out.
func incompletePlan() *Plan {
	p := samplePlan()
	p.Complete = false
	p.Changes = p.Changes[:1]
	p.Unchanged = map[string]int{"contacts": 3}
	p.Warnings = []string{`sync "tasks" was not planned: list paperbell.tasks: the API answered 502`}
	return p
}

func TestRenderGolden(t *testing.T) {
	p := samplePlan()
	cases := []struct {
		file   string
		render func(*bytes.Buffer) error
	}{
		{"plan.txt", func(b *bytes.Buffer) error { return p.WriteText(b, TextOptions{}) }},
		{"plan-color.txt", func(b *bytes.Buffer) error { return p.WriteText(b, TextOptions{Color: true}) }},
		{"plan.json", func(b *bytes.Buffer) error { return p.WriteJSON(b) }},
		{"empty.txt", func(b *bytes.Buffer) error {
			return (&Plan{Complete: true, Unchanged: map[string]int{"contacts": 963}}).WriteText(b, TextOptions{})
		}},
		{"incomplete.txt", func(b *bytes.Buffer) error { return incompletePlan().WriteText(b, TextOptions{}) }},
		{"incomplete-color.txt", func(b *bytes.Buffer) error { return incompletePlan().WriteText(b, TextOptions{Color: true}) }},
		{"incomplete.json", func(b *bytes.Buffer) error { return incompletePlan().WriteJSON(b) }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.file+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s differs (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestSensitiveNeverRendered(t *testing.T) {
	p := samplePlan()
	var text, js bytes.Buffer
	_ = p.WriteText(&text, TextOptions{})
	_ = p.WriteJSON(&js)
	path := filepath.Join(t.TempDir(), "p.plan")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(path)
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		if bytes.Contains([]byte(out), []byte("s3cr3t")) {
			t.Errorf("sensitive value rendered in %s:\n%s", name, out)
		}
	}
	// The saved plan must carry the value to apply it; it is written 0600.
	if !bytes.Contains(saved, []byte("s3cr3t-new")) {
		t.Errorf("saved plan lost the sensitive value it must apply")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := samplePlan()
	p.Changes[0].Desired = map[string]cty.Value{"first_name": cty.StringVal("Ann 🙂"), "email": cty.NullVal(cty.String)}
	path := filepath.Join(t.TempDir(), "x.plan")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })
	if diff := cmp.Diff(p, got, opts); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := Read(bytes.NewReader([]byte(`{"format":"something-else"}`))); err == nil {
		t.Error("a foreign file loaded as a plan")
	}
}

// TestRecordTextCannotForgePlanLines: a label or problem carrying escape
// sequences or newlines (a hostile note) is printed escaped, on its line.
func TestRecordTextCannotForgePlanLines(t *testing.T) {
	p := &Plan{Complete: true, Changes: []Change{{Sync: "notes", Action: Create, Side: SideTarget,
		Label:  "\x1b[2J\x1b[31mINJECTED\x1b[0m\n  + paperbell.contacts[\"fake\"] will be deleted",
		Source: Ref{Provider: "paperbell", Kind: "notes", ID: "n1"}, Target: Ref{Provider: "ghl", Kind: "notes"},
		Fields: []FieldChange{{Field: "body", Old: cty.NullVal(cty.String), New: cty.StringVal("<p>a & b</p>\n\x1b[0m")}}}}}
	var b bytes.Buffer
	if err := p.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if bytes.ContainsRune([]byte(out), 0x1b) {
		t.Errorf("an escape character reached the output:\n%q", out)
	}
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte(`+ paperbell.contacts["fake"]`)) {
			t.Errorf("a record's text forged a plan line: %q", line)
		}
	}
	if !bytes.Contains([]byte(out), []byte(`"<p>a & b</p>\n\u001b[0m"`)) {
		t.Errorf("HTML should read as written and control characters be escaped:\n%s", out)
	}
}

// TestIncompleteSummary: the verdict of an incomplete plan is on its
// summary line, once, in text and JSON, and never reads as a clean plan.
func TestIncompleteSummary(t *testing.T) {
	var text, js bytes.Buffer
	p := incompletePlan()
	if err := p.WriteText(&text, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "Plan (incomplete, cannot be applied): ") {
		t.Errorf("last line %q does not say the plan is incomplete", last)
	}
	if n := strings.Count(text.String(), "incomplete"); n != 1 {
		t.Errorf("the plan says it is incomplete %d times, want once:\n%s", n, text.String())
	}
	var got struct {
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary["incomplete"] != true {
		t.Errorf("JSON summary %v does not say incomplete", got.Summary)
	}
	// A complete plan's summary has only counts, as before.
	var complete bytes.Buffer
	if err := samplePlan().WriteJSON(&complete); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(complete.String(), "incomplete") {
		t.Errorf("a complete plan's JSON mentions incomplete:\n%s", complete.String())
	}
}

// TestInvisibleCharactersEscaped: bidi overrides and zero-width characters
// in record text are shown as escapes wherever the text plan prints record
// text (label, reason, problem, values, object keys), so a line cannot be
// made to read as something else.
func TestInvisibleCharactersEscaped(t *testing.T) {
	invisible := []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
		0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2060, 0xfeff}
	var all strings.Builder
	for _, r := range invisible {
		all.WriteRune(r)
	}
	hidden := "ann\u202eetaled\u202c@example.com" + all.String()
	p := &Plan{Complete: true, Changes: []Change{
		{Sync: "contacts", Action: Link, Side: SideTarget, Label: hidden,
			Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g\u200b1"}, Target: Ref{Provider: "paperbell", Kind: "contacts", ID: "p1"},
			Reason: "matched by email " + hidden,
			Fields: []FieldChange{
				{Field: "email", Old: cty.StringVal(hidden), New: cty.StringVal("ann\ufeff@example.com")},
				{Field: "custom", Old: cty.NullVal(cty.Map(cty.String)), New: cty.MapVal(map[string]cty.Value{"k\u2066ey": cty.StringVal("v\u2069")})},
			}},
		{Sync: "contacts", Action: Skip, Side: SideTarget, Label: hidden,
			Source: Ref{Provider: "ghl", Kind: "contacts", ID: "g2"}, Target: Ref{Provider: "paperbell", Kind: "contacts"},
			Problem: "invalid email address " + hidden},
	}}
	var b bytes.Buffer
	if err := p.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, r := range invisible {
		if strings.ContainsRune(out, r) {
			t.Errorf("U+%04X reached the output", r)
		}
	}
	for _, want := range []string{
		`# sync.contacts: ann\u202eetaled\u202c@example.com\u202a\u202b`, // label
		`# matched by email ann\u202eetaled\u202c@example.com`,           // reason
		`"ann\u202eetaled\u202c@example.com\u202a`,                       // old value
		`"ann\ufeff@example.com"`,                                        // new value
		`{"k\u2066ey" = "v\u2069"}`,                                      // object key and value
		`invalid email address ann\u202eetaled`,                          // problem
		`ghl.contacts["g\u200b1"]`,                                       // id
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	// Ordinary text outside those characters is untouched.
	if got := clean("Zoë 🙂 \u200eΩmega"); got != `Zoë 🙂 \u200eΩmega` {
		t.Errorf("clean = %q", got)
	}
}
