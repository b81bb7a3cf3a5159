package engine_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/providertest"
)

var (
	seedFlag   = flag.Int64("seed", 1, "seed of TestConvergence; 0 picks one from the clock")
	roundsFlag = flag.Int("rounds", 50, "rounds of TestConvergence")
)

// The two fake providers. "a" plays GHL (contacts without an archive
// flag, tasks listable account-wide), "b" plays Paperbell (contacts with an
// archive flag, tasks listed per contact, clients whose delete cascades).
var (
	fullCaps = providers.Capabilities{List: true, Get: true, Create: true, Update: true, Delete: true}

	personFields = []providers.Field{
		{Name: "name", Type: cty.String},
		{Name: "email", Type: cty.String},
		{Name: "phone", Type: cty.String},
		{Name: "tags", Type: cty.List(cty.String), Set: true, Fold: true},
	}
	schemasA = map[string]providers.Schema{
		"contacts": {Kind: "contacts", Fields: personFields, Caps: fullCaps},
		"tasks": {Kind: "tasks", Parent: "contacts", Fields: []providers.Field{
			{Name: "title", Type: cty.String}, {Name: "done", Type: cty.Bool},
		}, Caps: withListAll(fullCaps)},
		"notes": {Kind: "notes", Parent: "contacts", Fields: []providers.Field{{Name: "body", Type: cty.String}}, Caps: withListAll(fullCaps)},
	}
	schemasB = map[string]providers.Schema{
		"contacts": {Kind: "contacts", Fields: append(append([]providers.Field{}, personFields...), providers.Field{Name: "archived", Type: cty.Bool}),
			Caps: withArchive(fullCaps), ArchiveField: "archived"},
		"tasks": {Kind: "tasks", Parent: "contacts", Fields: []providers.Field{
			{Name: "title", Type: cty.String}, {Name: "done", Type: cty.Bool},
		}, Caps: fullCaps},
		"notes":   {Kind: "notes", Parent: "contacts", Fields: []providers.Field{{Name: "body", Type: cty.String}}, Caps: fullCaps},
		"clients": {Kind: "clients", Fields: personFields[:2], Caps: fullCaps, DeleteCascades: true},
	}
	findBy = map[string][]string{"contacts": {"email"}, "clients": {"email"}, "tasks": {"title"}, "notes": {"body"}}
)

func withListAll(c providers.Capabilities) providers.Capabilities { c.ListAll = true; return c }
func withArchive(c providers.Capabilities) providers.Capabilities { c.Archive = true; return c }

const providersHCL = `provider "a" {}
provider "b" {}
`

// clock is the time every Memory stamps UpdatedAt with; each reading is a
// second after the last, so "newer" is always decided by order.
type clock struct {
	// mu guards t.
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// harness is one workspace over the two in-memory providers.
type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *clock
	dir   string
	a, b  map[string]*providertest.Memory
	// engineB is what the engine sees of b, when a kind is wrapped.
	engineB map[string]providers.Resource
	ws      *engine.Workspace
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), clock: &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}, dir: t.TempDir(),
		a: map[string]*providertest.Memory{}, b: map[string]*providertest.Memory{}, engineB: map[string]providers.Resource{}}
	for side, schemas := range map[string]map[string]providers.Schema{"a": schemasA, "b": schemasB} {
		for kind, s := range schemas {
			m := providertest.NewMemory(s)
			m.Now = h.clock.Now
			m.FindBy = findBy[kind]
			if side == "a" {
				h.a[kind] = m
			} else {
				h.b[kind] = m
				h.engineB[kind] = m
			}
		}
	}
	return h
}

// lowerOnB makes b store field of kind lower-cased, as an API that
// normalises what it is sent.
func (h *harness) lowerOnB(kind, field string) {
	h.engineB[kind] = lowering{Memory: h.b[kind], field: field}
}

func (h *harness) registry() providers.Registry {
	a, b := map[string]providers.Resource{}, map[string]providers.Resource{}
	for k, m := range h.a {
		a[k] = m
	}
	for k, r := range h.engineB {
		b[k] = r
	}
	return providers.Registry{
		"a": func(hcl.Body, providers.Env) (providers.Provider, hcl.Diagnostics) {
			return &providertest.Provider{ProviderName: "a", Resources: a}, nil
		},
		"b": func(hcl.Body, providers.Env) (providers.Provider, hcl.Diagnostics) {
			return &providertest.Provider{ProviderName: "b", Resources: b}, nil
		},
	}
}

// openDiags writes src as sync.hcl and opens it.
func (h *harness) openDiags(src string) (*engine.Workspace, hcl.Diagnostics) {
	h.t.Helper()
	path := filepath.Join(h.dir, "sync.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		h.t.Fatal(err)
	}
	ws, diags := engine.Open(h.ctx, engine.Options{ConfigPath: path, Registry: h.registry(),
		StatePath: filepath.Join(h.dir, "state.db"), Now: h.clock.Now})
	if ws != nil {
		h.t.Cleanup(func() { ws.Close() })
	}
	return ws, diags
}

func (h *harness) open(src string) {
	h.t.Helper()
	ws, diags := h.openDiags(src)
	if diags.HasErrors() {
		h.t.Fatalf("open:\n%s\nconfig:\n%s", diags.Error(), numbered(src))
	}
	h.ws = ws
}

func (h *harness) plan() *plan.Plan {
	h.t.Helper()
	p, err := h.ws.Plan(h.ctx)
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	if !p.Complete {
		h.t.Fatalf("plan incomplete: %v", p.Warnings)
	}
	return p
}

// apply applies p (a fresh plan when nil) and fails the test on any error.
func (h *harness) apply(p *plan.Plan) *plan.Plan {
	h.t.Helper()
	p, res, err := h.ws.Apply(h.ctx, p, engine.ApplyOptions{})
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	if len(res.Errors) > 0 {
		h.t.Fatalf("apply errors:\n%s", strings.Join(res.Errors, "\n"))
	}
	return p
}

// sync runs plan then apply, and returns the plan applied.
func (h *harness) sync() *plan.Plan {
	h.t.Helper()
	return h.apply(h.plan())
}

// settled asserts that a plan made now writes nothing.
func (h *harness) settled(what string) {
	h.t.Helper()
	if p := h.plan(); p.HasChanges() {
		h.t.Fatalf("%s: plan still writes:\n%s", what, strings.Join(writes(p), "\n"))
	}
}

func (h *harness) links(syncName string) []state.Link {
	h.t.Helper()
	ls, err := h.ws.Store.Links(h.ctx, syncName)
	if err != nil {
		h.t.Fatal(err)
	}
	return ls
}

func (h *harness) link(syncName, sourceID string) state.Link {
	h.t.Helper()
	for _, l := range h.links(syncName) {
		if l.SourceID == sourceID {
			return l
		}
	}
	h.t.Fatalf("sync %q has no link for source %q", syncName, sourceID)
	return state.Link{}
}

// fields builds a record's fields from name/value pairs: a string, a
// []string (list), a bool, or nil (null, typed by the schema).
func fields(kv ...any) map[string]cty.Value {
	f := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			f[name] = cty.StringVal(v)
		case bool:
			f[name] = cty.BoolVal(v)
		case []string:
			f[name] = strList(v)
		case nil:
			f[name] = cty.NilVal
		default:
			panic(fmt.Sprintf("fields: unsupported %T", v))
		}
	}
	return f
}

func strList(v []string) cty.Value {
	if len(v) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(v))
	for i, s := range v {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func put(m *providertest.Memory, id, parent string, kv ...any) providers.Record {
	return m.Put(providers.Record{ID: id, ParentID: parent, Fields: fields(kv...)})
}

func get(t *testing.T, m *providertest.Memory, id string) (providers.Record, bool) {
	t.Helper()
	r, err := m.Get(context.Background(), "", id)
	return r, err == nil
}

// edit changes fields of a stored record "by a person", stamping it now.
func (h *harness) edit(m *providertest.Memory, id string, kv ...any) {
	h.t.Helper()
	r, ok := get(h.t, m, id)
	if !ok {
		h.t.Fatalf("edit: no record %q", id)
	}
	nf := map[string]cty.Value{}
	for k, v := range r.Fields {
		nf[k] = v
	}
	for k, v := range fields(kv...) {
		nf[k] = v
	}
	r.Fields, r.UpdatedAt = nf, h.clock.Now()
	m.Put(r)
}

func str(r providers.Record, field string) string {
	v := r.Fields[field]
	if v == cty.NilVal || v.IsNull() {
		return "<null>"
	}
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return fmt.Sprintf("%#v", v)
}

// byField finds the one record of m whose field is value.
func byField(t *testing.T, m *providertest.Memory, field, value string) providers.Record {
	t.Helper()
	var hits []providers.Record
	for _, r := range m.All() {
		if str(r, field) == value {
			hits = append(hits, r)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("%d records of %s with %s = %q, want 1: %v", len(hits), m.Schema().Kind, field, value, hits)
	}
	return hits[0]
}

// step is a change reduced to what the tests assert.
type step struct {
	Sync, Action, Side string
	Fields, Reverse    []string
}

func steps(p *plan.Plan) []step {
	var out []step
	for _, ch := range p.Changes {
		if !ch.Action.Writes() {
			continue
		}
		s := step{Sync: ch.Sync, Action: ch.Action.String(), Side: string(ch.Side)}
		for _, f := range ch.Fields {
			s.Fields = append(s.Fields, f.Field)
		}
		for _, f := range ch.Reverse {
			s.Reverse = append(s.Reverse, f.Field)
		}
		out = append(out, s)
	}
	return out
}

// writes renders a plan's writes one per line, for failure messages.
func writes(p *plan.Plan) []string {
	var out []string
	for _, ch := range p.Changes {
		if !ch.Action.Writes() {
			continue
		}
		line := fmt.Sprintf("%s %s %s src=%s tgt=%s (%s)", ch.Sync, ch.Action, ch.Side, ch.Source.ID, ch.Target.ID, ch.Reason)
		for _, f := range append(append([]plan.FieldChange{}, ch.Fields...), ch.Reverse...) {
			line += fmt.Sprintf("\n    %s: %s -> %s [%s; %s]", f.Field, f.Old.GoString(), f.New.GoString(), f.Reason, f.Origin)
		}
		out = append(out, line)
	}
	return out
}

func skips(p *plan.Plan) []string {
	var out []string
	for _, ch := range p.Changes {
		if ch.Action == plan.Skip {
			out = append(out, ch.Source.ID+": "+ch.Problem)
		}
	}
	sort.Strings(out)
	return out
}

// lineOf is the 1-based line of the first occurrence of needle in src.
func lineOf(t *testing.T, src, needle string) int {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("config has no %q", needle)
	}
	return strings.Count(src[:i], "\n") + 1
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}

// lowering stores one string field lower-cased, and echoes it so.
type lowering struct {
	*providertest.Memory
	field string
}

func (l lowering) lower(v cty.Value) cty.Value {
	if v == cty.NilVal || v.IsNull() || v.Type() != cty.String {
		return v
	}
	return cty.StringVal(strings.ToLower(v.AsString()))
}

func (l lowering) Create(ctx context.Context, parentID string, f map[string]cty.Value) (providers.Record, error) {
	nf := make(map[string]cty.Value, len(f))
	for k, v := range f {
		nf[k] = v
	}
	if v, ok := nf[l.field]; ok {
		nf[l.field] = l.lower(v)
	}
	return l.Memory.Create(ctx, parentID, nf)
}

func (l lowering) Update(ctx context.Context, parentID, id string, changes []providers.Change) (providers.Record, error) {
	nc := append([]providers.Change(nil), changes...)
	for i := range nc {
		if nc[i].Field == l.field {
			nc[i].New = l.lower(nc[i].New)
		}
	}
	return l.Memory.Update(ctx, parentID, id, nc)
}

// contactsSync is a contacts sync from a to b matched by email. extra is
// inserted after the target line (direction, conflict, on_delete ...);
// reverse, when set, is the body of a reverse_map block.
func contactsSync(extra, mapBody, reverse string) string {
	src := providersHCL + `
sync "contacts" {
  source = a.contacts
  target = b.contacts
` + extra + `
  match {
    key "email" {
      source = lower(source.email)
      target = lower(target.email)
    }
  }

  map {
` + mapBody + `
  }
`
	if reverse != "" {
		src += `
  reverse_map {
` + reverse + `
  }
`
	}
	return src + "}\n"
}

const (
	mapNameEmail = `    name  = source.name
    email = source.email`
	revNameEmail = `    name  = target.name
    email = target.email`
	mapAll = `    name  = source.name
    email = source.email
    phone = source.phone
    tags  = source.tags`
	revAll = `    name  = target.name
    email = target.email
    phone = target.phone
    tags  = target.tags`
)

// TestTwoWayTagsMerge: tags added and removed on both sides of a two-way
// link between runs are merged, whatever the conflict rule: a tag someone
// added on one side is never dropped because the other side also changed
// its tags. A saved plan carrying the merge applies.
func TestTwoWayTagsMerge(t *testing.T) {
	for _, rule := range []string{"source_wins", "target_wins"} {
		t.Run(rule, func(t *testing.T) {
			h := newHarness(t)
			h.open(contactsSync(`  direction = "two_way"
  conflict  = "`+rule+`"`, mapAll, revAll))
			ac, bc := h.a["contacts"], h.b["contacts"]
			put(ac, "a1", "", "name", "Ann", "email", "ann@x.com", "tags", []string{"lead", "old"})
			h.sync()
			b1 := h.link("contacts", "a1").TargetID
			h.edit(ac, "a1", "tags", []string{"lead", "old", "from-a"})
			h.edit(bc, b1, "tags", []string{"lead", "from-b"}) // and "old" removed
			p := h.plan()
			saved := filepath.Join(t.TempDir(), "p.plan")
			if err := p.Save(saved); err != nil {
				t.Fatal(err)
			}
			loaded, err := plan.Load(saved)
			if err != nil {
				t.Fatal(err)
			}
			if _, res, err := h.ws.Apply(h.ctx, loaded, engine.ApplyOptions{Saved: true}); err != nil || len(res.Errors) > 0 {
				t.Fatalf("apply of the saved plan: %v %v", err, res.Errors)
			}
			want := []string{"from-a", "from-b", "lead"}
			for _, r := range []struct {
				m  *providertest.Memory
				id string
			}{{ac, "a1"}, {bc, b1}} {
				rec, _ := get(t, r.m, r.id)
				if diff := cmp.Diff(want, tagsOf(rec)); diff != "" {
					t.Errorf("%s tags (-want +got):\n%s", r.id, diff)
				}
			}
			h.settled("after the merge")
		})
	}
}

// TestRecreatedAfterSuspend: a contact deleted (its counterpart
// suspended) and entered again with the same email is not linked to the
// retired record behind the user's back, and the plan says how to allow
// it; once the old link is forgotten, the new contact links to it.
func TestRecreatedAfterSuspend(t *testing.T) {
	h := newHarness(t)
	h.open(contactsSync(`  on_delete = "suspend"
  max_deletes = 5`, mapNameEmail, ""))
	ac := h.a["contacts"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	put(ac, "a2", "", "name", "Bob", "email", "bob@x.com")
	h.sync()
	old := h.link("contacts", "a1").TargetID
	ac.Remove("a1")
	h.sync()
	put(ac, "a9", "", "name", "Ann", "email", "ann@x.com")
	p := h.plan()
	var problem string
	for _, ch := range p.Changes {
		if ch.Source.ID == "a9" {
			problem = ch.Problem
		}
	}
	if !strings.Contains(problem, "was suspended when its linked source record \"a1\" was deleted") ||
		!strings.Contains(problem, "bellsync state forget -sync contacts a1") {
		t.Fatalf("plan for the re-entered contact: %q, want the suspended link named with the way out", problem)
	}
	if err := h.ws.Store.DeleteLink(h.ctx, "contacts", "a1"); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.link("contacts", "a9").TargetID; got != old {
		t.Errorf("a9 linked to %q, want the retired record %q", got, old)
	}
}

// TestTwoWayTagsMergeAcrossCase: the merge agrees on both sides when one
// side folds case (like GHL) and the other keeps it, and a new link keeps
// both sides' tags. After each apply both sides hold the same set (up to
// case) and the next plan is empty.
func TestTwoWayTagsMergeAcrossCase(t *testing.T) {
	h := newHarness(t)
	// a's tags fold case (GHL); b's people keep it (Paperbell).
	keepCase := append([]providers.Field{}, personFields...)
	keepCase[3] = providers.Field{Name: "tags", Type: cty.List(cty.String), Set: true}
	people := providertest.NewMemory(providers.Schema{Kind: "people", Fields: keepCase, Caps: fullCaps})
	people.FindBy = []string{"email"}
	h.b["people"], h.engineB["people"] = people, people
	h.open(strings.Replace(contactsSync(`  direction = "two_way"
  conflict  = "newest_wins"`, mapAll, revAll), "target = b.contacts", "target = b.people", 1))
	ac, bc := h.a["contacts"], people
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com", "tags", []string{"lead", "vip"})
	put(bc, "b1", "", "name", "Ann", "email", "ann@x.com", "tags", []string{"Coaching"})
	same := func(step string, want ...string) {
		t.Helper()
		a, _ := get(t, ac, "a1")
		b, _ := get(t, bc, "b1")
		lower := func(tags []string) []string {
			out := make([]string, len(tags))
			for i, s := range tags {
				out[i] = strings.ToLower(s)
			}
			sort.Strings(out)
			return out
		}
		if d := cmp.Diff(want, lower(tagsOf(a))); d != "" {
			t.Errorf("%s: a tags (-want +got):\n%s", step, d)
		}
		if d := cmp.Diff(want, lower(tagsOf(b))); d != "" {
			t.Errorf("%s: b tags (-want +got):\n%s", step, d)
		}
		h.settled(step)
	}
	h.sync()
	same("first link keeps both sides' tags", "coaching", "lead", "vip")
	h.edit(ac, "a1", "tags", []string{"coaching", "lead", "vip", "gold"})
	h.edit(bc, "b1", "tags", []string{"Lead", "VIP", "Premium"}) // Coaching removed
	h.sync()
	same("a removal on the case-keeping side holds", "gold", "lead", "premium", "vip")
	h.edit(ac, "a1", "tags", []string{"gold", "premium", "vip"}) // lead removed
	h.edit(bc, "b1", "tags", []string{"GOLD", "Lead", "Premium", "VIP", "Y"})
	h.sync()
	same("case-only differences are one tag", "gold", "premium", "vip", "y")
}

// TestEchoSuppression: once applied, nothing is written again unless
// someone edits something, even when the target stores values in its own
// form.
func TestEchoSuppression(t *testing.T) {
	oneWay := contactsSync("", mapAll, "")
	twoWay := contactsSync(`  direction = "two_way"
  conflict  = "source_wins"`, mapAll, revAll)
	tests := []struct {
		name  string
		cfg   string
		lower bool
	}{
		{"one-way", oneWay, false},
		{"two-way", twoWay, false},
		{"one-way, target lower-cases names", oneWay, true},
		{"two-way, target lower-cases names", twoWay, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.lower {
				h.lowerOnB("contacts", "name")
			}
			h.open(tt.cfg)
			put(h.a["contacts"], "a1", "", "name", "Ann Lee", "email", "ann@x.com", "phone", "+1555", "tags", []string{"VIP", "lead"})
			put(h.a["contacts"], "a2", "", "name", "Bob Roe", "email", "bob@x.com")
			put(h.b["contacts"], "b1", "", "name", "Cy Doe", "email", "cy@x.com", "tags", []string{"lead"})
			// b holds a2 under the same email with another name: a link
			// with a field update.
			put(h.b["contacts"], "b2", "", "name", "Robert Roe", "email", "BOB@x.com")

			h.sync()
			if tt.lower {
				if got := str(byField(t, h.b["contacts"], "email", "ann@x.com"), "name"); got != "ann lee" {
					t.Fatalf("b stored name %q, want the lower-cased echo", got)
				}
			}
			h.settled("after the first apply")
			updates := h.b["contacts"].CallCount("update") + h.a["contacts"].CallCount("update")
			h.sync()
			h.settled("after a second apply")
			if got := h.b["contacts"].CallCount("update") + h.a["contacts"].CallCount("update"); got != updates {
				t.Errorf("a run with no edits made %d updates", got-updates)
			}

			// An edit still goes through, once.
			h.edit(h.a["contacts"], "a1", "name", "Ann Smith")
			p := h.plan()
			want := []step{{Sync: "contacts", Action: "update", Side: "target", Fields: []string{"name"}}}
			if diff := cmp.Diff(want, steps(p)); diff != "" {
				t.Fatalf("plan after a source edit (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
			}
			h.apply(p)
			h.settled("after propagating an edit")
		})
	}
}

// TestConflictRules: both sides change the same field between runs; the
// sync's conflict rule picks the value, and the plan says so.
func TestConflictRules(t *testing.T) {
	tests := []struct {
		rule    string
		later   string // the side edited last
		winner  string // the side whose value survives
		because string
	}{
		{"source_wins", "target", "a", "conflict = source_wins"},
		{"target_wins", "source", "b", "conflict = target_wins"},
		{"newest_wins", "source", "a", "conflict = newest_wins: the source changed last"},
		{"newest_wins", "target", "b", "conflict = newest_wins: the target changed last"},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.later+" later", func(t *testing.T) {
			h := newHarness(t)
			cfg := contactsSync(`  direction = "two_way"
  conflict  = "`+tt.rule+`"`, mapAll, revAll)
			h.open(cfg)
			put(h.a["contacts"], "a1", "", "name", "Ann", "email", "ann@x.com", "phone", "100")
			h.sync()
			bid := h.link("contacts", "a1").TargetID

			edits := []func(){
				func() { h.edit(h.a["contacts"], "a1", "phone", "111") },
				func() { h.edit(h.b["contacts"], bid, "phone", "222") },
			}
			if tt.later == "source" {
				edits[0], edits[1] = edits[1], edits[0]
			}
			edits[0]()
			edits[1]()
			wantValue := map[string]string{"a": "111", "b": "222"}[tt.winner]

			p := h.plan()
			want := step{Sync: "contacts", Action: "update", Side: "target"}
			mapLine := lineOf(t, cfg, "phone = source.phone")
			if tt.winner == "b" {
				want.Reverse = []string{"phone"}
				mapLine = lineOf(t, cfg, "phone = target.phone")
			} else {
				want.Fields = []string{"phone"}
			}
			if diff := cmp.Diff([]step{want}, steps(p)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
			}
			ch := p.Changes[0]
			fc := append(ch.Fields, ch.Reverse...)[0]
			if got := fc.New.AsString(); got != wantValue {
				t.Errorf("planned phone %q, want %q", got, wantValue)
			}
			wantReason := fmt.Sprintf("both sides changed; conflict resolved by %s (sync.hcl:%d)", tt.because, lineOf(t, cfg, "conflict  ="))
			if fc.Reason != wantReason {
				t.Errorf("reason\n got %q\nwant %q", fc.Reason, wantReason)
			}
			if want := fmt.Sprintf("sync.hcl:%d", mapLine); fc.Origin != want {
				t.Errorf("origin %q, want %q", fc.Origin, want)
			}

			h.apply(p)
			ra, _ := get(t, h.a["contacts"], "a1")
			rb, _ := get(t, h.b["contacts"], bid)
			if got := [2]string{str(ra, "phone"), str(rb, "phone")}; got != [2]string{wantValue, wantValue} {
				t.Errorf("phones after apply (a, b) = %q, want both %q", got, wantValue)
			}
			h.settled("after resolving the conflict")
		})
	}
}

// TestConflictOnNewLink: a record adopted by its match key that differs
// from its counterpart follows the conflict rule too.
func TestConflictOnNewLink(t *testing.T) {
	for _, rule := range []string{"source_wins", "target_wins"} {
		t.Run(rule, func(t *testing.T) {
			h := newHarness(t)
			h.open(contactsSync(`  direction = "two_way"
  conflict  = "`+rule+`"`, mapNameEmail, revNameEmail))
			put(h.a["contacts"], "a1", "", "name", "Ann", "email", "ann@x.com")
			put(h.b["contacts"], "b1", "", "name", "Annie", "email", "ann@x.com")
			p := h.plan()
			want := step{Sync: "contacts", Action: "link", Side: "target"}
			if rule == "source_wins" {
				want.Fields = []string{"name"}
			} else {
				want.Reverse = []string{"name"}
			}
			if diff := cmp.Diff([]step{want}, steps(p)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
			}
			h.apply(p)
			ra, _ := get(t, h.a["contacts"], "a1")
			rb, _ := get(t, h.b["contacts"], "b1")
			if str(ra, "name") != str(rb, "name") {
				t.Errorf("names differ after linking: a %q, b %q", str(ra, "name"), str(rb, "name"))
			}
			h.settled("after linking")
		})
	}
}

// TestOwnership: a field owned by the source is put back when edited on
// the target, even under conflict = target_wins, and never written to
// the source.
func TestOwnership(t *testing.T) {
	cfg := contactsSync(`  direction = "two_way"
  conflict  = "target_wins"`, mapNameEmail, revNameEmail)
	cfg = strings.Replace(cfg, "  reverse_map {", `  ownership {
    email = "source"
  }

  reverse_map {`, 1)
	h := newHarness(t)
	h.open(cfg)
	put(h.a["contacts"], "a1", "", "name", "Ann", "email", "ann@x.com")
	h.sync()
	bid := h.link("contacts", "a1").TargetID
	sourceUpdates := h.a["contacts"].CallCount("update")

	// The target edits the owned field: it is overwritten.
	h.edit(h.b["contacts"], bid, "email", "wrong@x.com")
	p := h.plan()
	if diff := cmp.Diff([]step{{Sync: "contacts", Action: "update", Side: "target", Fields: []string{"email"}}}, steps(p)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	fc := p.Changes[0].Fields[0]
	wantReason := fmt.Sprintf("target drifted; the field is owned by the source (sync.hcl:%d)", lineOf(t, cfg, `email = "source"`))
	if fc.Reason != wantReason || fc.New.AsString() != "ann@x.com" {
		t.Errorf("email change = %q (%s), want %q (%s)", fc.New.AsString(), fc.Reason, "ann@x.com", wantReason)
	}
	h.apply(p)
	if rb, _ := get(t, h.b["contacts"], bid); str(rb, "email") != "ann@x.com" {
		t.Errorf("b email = %q after apply, want it put back", str(rb, "email"))
	}
	h.settled("after putting the owned field back")

	// Both sides edit it: the owner wins although the rule says target.
	h.edit(h.b["contacts"], bid, "email", "b@x.com")
	h.edit(h.a["contacts"], "a1", "email", "a@x.com")
	p = h.plan()
	if diff := cmp.Diff([]step{{Sync: "contacts", Action: "update", Side: "target", Fields: []string{"email"}}}, steps(p)); diff != "" {
		t.Fatalf("plan after both edited (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	h.apply(p)
	h.settled("after both edited the owned field")

	// The unowned name still flows back from the target.
	h.edit(h.b["contacts"], bid, "name", "Annie")
	p = h.plan()
	if diff := cmp.Diff([]step{{Sync: "contacts", Action: "update", Side: "target", Reverse: []string{"name"}}}, steps(p)); diff != "" {
		t.Fatalf("plan after a target name edit (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	h.apply(p)
	if got := h.a["contacts"].CallCount("update") - sourceUpdates; got != 1 {
		t.Errorf("source was updated %d times, want once (the name only)", got)
	}
	if ra, _ := get(t, h.a["contacts"], "a1"); str(ra, "email") != "a@x.com" || str(ra, "name") != "Annie" {
		t.Errorf("source = %v, want email a@x.com and name Annie", ra.Fields)
	}
}

// TestValidation: configs the engine refuses at Open, each with a
// diagnostic at the line to fix.
func TestValidation(t *testing.T) {
	tasks := `
sync "tasks" {
  source = a.tasks
  target = b.tasks
%s
  match {
    key "title" {
      source = source.title
      target = target.title
    }
  }
  map {
    title = source.title
  }
}
`
	clients := providersHCL + `
sync "clients" {
  source = a.contacts
  target = b.clients
%s
  match {
    key "email" {
      source = source.email
      target = target.email
    }
  }
  map {
    email = source.email
  }
}
`
	tests := []struct {
		name    string
		cfg     string
		summary string // "" means the config is valid
		at      string // the text the diagnostic points at
	}{
		{
			name:    "field writable from both sides without a rule",
			cfg:     contactsSync(`  direction = "two_way"`, mapNameEmail, revNameEmail),
			summary: "Field writable from both sides without a rule",
			at:      `direction = "two_way"`,
		},
		{
			name:    "a conflict rule makes it valid",
			cfg:     contactsSync(`  direction = "two_way"`+"\n"+`  conflict = "newest_wins"`, mapNameEmail, revNameEmail),
			summary: "",
		},
		{
			name:    "suspend toward a kind with no archive flag and no tags",
			cfg:     fmt.Sprintf(clients, `  on_delete = "suspend"`),
			summary: "Delete policy not possible",
			at:      `on_delete = "suspend"`,
		},
		{
			name: "two-way suspend toward a source without an archive flag",
			cfg: contactsSync(`  direction = "two_way"
  conflict  = "source_wins"
  on_delete = "suspend"`, mapNameEmail, revNameEmail),
			summary: "Delete policy not possible",
			at:      `on_delete = "suspend"`,
		},
		{
			name: "two-way suspend with tags_add is possible on both sides",
			cfg: contactsSync(`  direction = "two_way"
  conflict  = "source_wins"
  on_delete = "suspend"
  suspend {
    tags_add = ["gone"]
  }`, mapNameEmail, revNameEmail),
			summary: "",
		},
		{
			name:    "hard delete of a kind whose delete cascades",
			cfg:     fmt.Sprintf(clients, `  on_delete = "delete"`),
			summary: "Hard delete that cannot be undone",
			at:      `on_delete = "delete"`,
		},
		{
			name:    "allow_cascading_delete permits it",
			cfg:     fmt.Sprintf(clients, `  on_delete = "delete"`+"\n"+`  allow_cascading_delete = true`),
			summary: "",
		},
		{
			name:    "child sync without a parent",
			cfg:     contactsSync("", mapNameEmail, "") + fmt.Sprintf(tasks, ""),
			summary: "Missing parent sync",
			at:      `sync "tasks"`,
		},
		{
			name:    "child sync naming a parent that does not exist",
			cfg:     contactsSync("", mapNameEmail, "") + fmt.Sprintf(tasks, "  parent = sync.contact"),
			summary: "Unknown parent sync",
			at:      `parent = sync.contact`,
		},
		{
			name:    "child sync under its parent sync",
			cfg:     contactsSync("", mapNameEmail, "") + fmt.Sprintf(tasks, "  parent = sync.contacts"),
			summary: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, diags := h.openDiags(tt.cfg)
			if tt.summary == "" {
				if diags.HasErrors() {
					t.Fatalf("want a valid config, got:\n%s\n%s", diags.Error(), numbered(tt.cfg))
				}
				return
			}
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				line := 0
				if d.Subject != nil {
					line = d.Subject.Start.Line
					if filepath.Base(d.Subject.Filename) != "sync.hcl" {
						t.Errorf("diagnostic %q points into %q", d.Summary, d.Subject.Filename)
					}
				}
				got = append(got, fmt.Sprintf("%s at line %d", d.Summary, line))
			}
			want := []string{fmt.Sprintf("%s at line %d", tt.summary, lineOf(t, tt.cfg, tt.at))}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error diagnostics (-want +got):\n%s\n%s", diff, numbered(tt.cfg))
			}
		})
	}
}

// TestDeletePolicies: a linked record removed on one side after a first
// apply; the policy decides what happens to its counterpart, and nothing
// bellsync did not link is touched.
func TestDeletePolicies(t *testing.T) {
	oneWay := func(policy string) string { return contactsSync(policy, mapAll, "") }
	twoWay := func(policy string) string {
		return contactsSync(`  direction = "two_way"
  conflict  = "source_wins"
`+policy, mapAll, revAll)
	}
	type outcome struct {
		Exists   bool
		Archived string
		Tags     string
		Link     string // the link's status
	}
	tests := []struct {
		name string
		cfg  string
		// removeTarget removes b's record of a2 instead of a2.
		removeTarget bool
		want         outcome // of the survivor of a2's link
		planned      []step
	}{
		{name: "retain", cfg: oneWay(`  on_delete = "retain"`),
			want: outcome{Exists: true, Archived: "<null>", Tags: "[]", Link: "active"}},
		{name: "suspend archives", cfg: oneWay(`  on_delete = "suspend"`),
			want:    outcome{Exists: true, Archived: "true", Tags: "[]", Link: "suspended"},
			planned: []step{{Sync: "contacts", Action: "suspend", Side: "target", Fields: []string{"archived"}}}},
		{name: "suspend tags", cfg: oneWay(`  on_delete = "suspend"
  suspend {
    archive  = false
    tags_add = ["gone"]
  }`),
			want:    outcome{Exists: true, Archived: "<null>", Tags: "[gone]", Link: "suspended"},
			planned: []step{{Sync: "contacts", Action: "suspend", Side: "target", Fields: []string{"tags"}}}},
		{name: "suspend archives and tags", cfg: oneWay(`  on_delete = "suspend"
  suspend {
    tags_add = ["gone"]
  }`),
			want:    outcome{Exists: true, Archived: "true", Tags: "[gone]", Link: "suspended"},
			planned: []step{{Sync: "contacts", Action: "suspend", Side: "target", Fields: []string{"archived", "tags"}}}},
		{name: "delete", cfg: oneWay(`  on_delete = "delete"`),
			want:    outcome{Exists: false, Link: "deleted"},
			planned: []step{{Sync: "contacts", Action: "delete", Side: "target"}}},
		{name: "two-way retain", cfg: twoWay(`  on_delete = "retain"`), removeTarget: true,
			want: outcome{Exists: true, Archived: "<null>", Tags: "[]", Link: "active"}},
		{name: "two-way suspend tags the source", cfg: twoWay(`  on_delete = "suspend"
  suspend {
    tags_add = ["gone"]
  }`), removeTarget: true,
			want:    outcome{Exists: true, Archived: "<null>", Tags: "[gone]", Link: "suspended"},
			planned: []step{{Sync: "contacts", Action: "suspend", Side: "source", Fields: []string{"tags"}}}},
		{name: "two-way delete deletes the source", cfg: twoWay(`  on_delete = "delete"`), removeTarget: true,
			want:    outcome{Exists: false, Link: "deleted"},
			planned: []step{{Sync: "contacts", Action: "delete", Side: "source"}}},
		{name: "two-way suspend archives the target", cfg: twoWay(`  on_delete = "suspend"
  suspend {
    tags_add = ["gone"]
  }`),
			want:    outcome{Exists: true, Archived: "true", Tags: "[gone]", Link: "suspended"},
			planned: []step{{Sync: "contacts", Action: "suspend", Side: "target", Fields: []string{"archived", "tags"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.open(tt.cfg)
			ac, bc := h.a["contacts"], h.b["contacts"]
			for _, id := range []string{"a1", "a2", "a3"} {
				put(ac, id, "", "name", "Person "+id, "email", id+"@x.com")
			}
			h.sync()
			// Someone added a record to b after the first run that
			// matches nothing (in a two-way sync it is backfilled, but
			// never deleted or suspended).
			put(bc, "stranger", "", "name", "Stranger", "email", "stranger@x.com")
			if strings.Contains(tt.cfg, "two_way") {
				h.sync()
			}
			h.settled("before the delete")
			before := map[string]providers.Record{}
			for side, m := range map[string]*providertest.Memory{"a": ac, "b": bc} {
				for _, r := range m.All() {
					before[side+"/"+r.ID] = r
				}
			}
			l := h.link("contacts", "a2")
			survivor, survivorID := bc, l.TargetID
			if tt.removeTarget {
				bc.Remove(l.TargetID)
				survivor, survivorID = ac, "a2"
			} else {
				ac.Remove("a2")
			}

			p := h.plan()
			if diff := cmp.Diff(tt.planned, steps(p)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
			}
			for _, ch := range p.Changes {
				if ch.Action == plan.Delete || ch.Action == plan.Suspend {
					if want := fmt.Sprintf("sync.hcl:%d", lineOf(t, tt.cfg, "on_delete")); ch.Origin != want {
						t.Errorf("%s origin %q, want %q", ch.Action, ch.Origin, want)
					}
				}
			}
			h.apply(p)

			var got outcome
			if r, ok := get(t, survivor, survivorID); ok {
				got = outcome{Exists: true, Archived: str(r, "archived"), Tags: fmt.Sprint(tagsOf(r))}
			}
			got.Link = h.link("contacts", "a2").Status
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("survivor (-want +got):\n%s", diff)
			}
			// Nothing else moved.
			for side, m := range map[string]*providertest.Memory{"a": ac, "b": bc} {
				for _, r := range m.All() {
					if m == survivor && r.ID == survivorID {
						continue
					}
					if diff := cmp.Diff(before[side+"/"+r.ID].Fields, r.Fields, cmp.Comparer(ctyEqual)); diff != "" {
						t.Errorf("record %s changed (-before +after):\n%s", r.ID, diff)
					}
				}
			}
			if _, ok := get(t, bc, "stranger"); !ok {
				t.Error("the unlinked stranger was deleted")
			}
			h.settled("after the delete policy")
		})
	}
}

func ctyEqual(a, b cty.Value) bool { return a.RawEquals(b) }

func tagsOf(r providers.Record) []string {
	out := []string{}
	v := r.Fields["tags"]
	if v == cty.NilVal || v.IsNull() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	sort.Strings(out)
	return out
}

// TestUnattendedDeleteBudget: the daemon's passes count the last day's
// deletes against max_deletes, so one webhook at a time cannot add up to a
// mass delete; past the budget, deletes are held back (and reported) while
// other changes still apply, until someone applies with AllowMassDelete.
func TestUnattendedDeleteBudget(t *testing.T) {
	h := newHarness(t)
	h.open(contactsSync(`  on_delete   = "delete"
  max_deletes = 3`, mapNameEmail, ""))
	ac, bc := h.a["contacts"], h.b["contacts"]
	for i := range 10 {
		put(ac, fmt.Sprintf("a%02d", i), "", "name", "P", "email", fmt.Sprintf("p%d@x.com", i))
	}
	h.sync()
	var held []string
	for i := range 5 {
		id := fmt.Sprintf("a%02d", i)
		ac.Remove(id)
		res, err := h.ws.Record(h.ctx, schedule.Hint{Provider: "a", Kind: "contacts", ID: id, Deleted: true})
		if err != nil {
			t.Fatalf("webhook %d: %v", i, err)
		}
		held = append(held, res.Errors...)
	}
	if n := len(bc.All()); n != 7 {
		t.Errorf("b holds %d records after 5 delete webhooks, want 7 (3 deleted, then held back)", n)
	}
	if len(held) != 2 || !strings.Contains(held[0], "held back 1 delete or suspend") || !strings.Contains(held[0], "and 3 in the last 24h0m0s") {
		t.Errorf("webhook errors = %q, want two held-back deletes naming the last day's 3", held)
	}

	// A full pass holds them back too, but still applies other work.
	put(ac, "a09", "", "name", "Renamed", "email", "p9@x.com")
	res, err := h.ws.Pass(h.ctx, schedule.Full)
	if err != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "held back 2 deletes") {
		t.Errorf("full pass: %v %q, want the 2 deletes held back", err, res.Errors)
	}
	if got := str(byField(t, bc, "email", "p9@x.com"), "name"); got != "Renamed" {
		t.Errorf("the update beside the held-back deletes was not applied: name %q", got)
	}
	if n := len(bc.All()); n != 7 {
		t.Errorf("b holds %d records after the full pass, want 7", n)
	}

	// Someone reviews and allows it.
	if _, res, err := h.ws.Apply(h.ctx, nil, engine.ApplyOptions{AllowMassDelete: true}); err != nil || len(res.Errors) > 0 {
		t.Fatalf("apply with AllowMassDelete: %v %v", err, res.Errors)
	}
	if n := len(bc.All()); n != 5 {
		t.Errorf("b holds %d records after the allowed apply, want 5", n)
	}
}

// TestPassesNameSkippedRecords: a record a pass leaves alone (no
// identifier here) is named in the pass's result, for the daemon to log,
// without failing the pass or holding its cursors back.
func TestPassesNameSkippedRecords(t *testing.T) {
	h := newHarness(t)
	h.open(contactsSync("", mapNameEmail, ""))
	ac := h.a["contacts"]
	put(ac, "a1", "", "name", "No Email")
	for _, run := range []func() (schedule.Result, error){
		func() (schedule.Result, error) {
			return h.ws.Record(h.ctx, schedule.Hint{Provider: "a", Kind: "contacts", ID: "a1"})
		},
		func() (schedule.Result, error) { return h.ws.Pass(h.ctx, schedule.Full) },
		func() (schedule.Result, error) { return h.ws.Pass(h.ctx, schedule.Incremental) },
	} {
		res, err := run()
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("pass: %v %v", err, res.Errors)
		}
		if res.RunID == "" {
			t.Errorf("%s pass: no run id", res.Kind)
		}
		if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "no identifier") {
			t.Errorf("%s pass: Skipped = %q, want the record without an email", res.Kind, res.Skipped)
		}
	}
}

// TestMassDeleteGuard: removing more linked records than max_deletes
// allows blocks the plan; apply refuses it unless told to allow it.
func TestMassDeleteGuard(t *testing.T) {
	tests := []struct {
		maxDeletes string
		blocked    bool
	}{
		{`2`, true},
		{`"20%"`, true},
		{`3`, false},
		{`"30%"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.maxDeletes, func(t *testing.T) {
			h := newHarness(t)
			h.open(contactsSync(`  on_delete   = "delete"
  max_deletes = `+tt.maxDeletes, mapNameEmail, ""))
			ac, bc := h.a["contacts"], h.b["contacts"]
			for i := range 10 {
				put(ac, fmt.Sprintf("a%02d", i), "", "name", "P", "email", fmt.Sprintf("p%d@x.com", i))
			}
			h.sync()
			for _, id := range []string{"a01", "a02", "a03"} {
				ac.Remove(id)
			}
			p := h.plan()
			if got := p.Counts().Delete; got != 3 {
				t.Fatalf("plan deletes %d, want 3", got)
			}
			if !tt.blocked {
				if len(p.Blocked) > 0 {
					t.Fatalf("plan blocked: %v", p.Blocked)
				}
				h.apply(p)
				if n := len(bc.All()); n != 7 {
					t.Errorf("b holds %d records, want 7", n)
				}
				return
			}
			if len(p.Blocked) != 1 || !strings.Contains(p.Blocked[0], "max_deletes = "+strings.Trim(tt.maxDeletes, `"`)) {
				t.Fatalf("Blocked = %q, want one reason naming max_deletes", p.Blocked)
			}
			if _, _, err := h.ws.Apply(h.ctx, p, engine.ApplyOptions{}); err == nil {
				t.Error("apply of a blocked plan succeeded")
			}
			if _, _, err := h.ws.Apply(h.ctx, nil, engine.ApplyOptions{}); err == nil {
				t.Error("a fresh apply past the guard succeeded")
			}
			if n := bc.CallCount("delete"); n != 0 || len(bc.All()) != 10 {
				t.Fatalf("b saw %d deletes and holds %d records, want 0 and 10", n, len(bc.All()))
			}
			if _, res, err := h.ws.Apply(h.ctx, p, engine.ApplyOptions{AllowMassDelete: true}); err != nil || len(res.Errors) > 0 {
				t.Fatalf("apply with AllowMassDelete: %v %v", err, res.Errors)
			}
			if n := len(bc.All()); n != 7 {
				t.Errorf("b holds %d records after the allowed mass delete, want 7", n)
			}
			h.settled("after the mass delete")
		})
	}
}

// TestNoDeleteAfterFailedListing: a listing that fails, at once or part
// way, makes the plan incomplete; nothing is deleted, even when mass
// deletes are allowed.
func TestNoDeleteAfterFailedListing(t *testing.T) {
	oneWay := contactsSync(`  on_delete   = "delete"
  max_deletes = "100%"`, mapNameEmail, "")
	twoWay := contactsSync(`  direction   = "two_way"
  conflict    = "source_wins"
  on_delete   = "delete"
  max_deletes = "100%"`, mapNameEmail, revNameEmail)
	tests := []struct {
		name  string
		cfg   string
		side  string
		after int
	}{
		{"one-way, source fails at once", oneWay, "a", 0},
		{"one-way, source fails part way", oneWay, "a", 2},
		{"two-way, target fails at once", twoWay, "b", 0},
		{"two-way, target fails part way", twoWay, "b", 2},
		{"two-way, source fails part way", twoWay, "a", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.open(tt.cfg)
			ac, bc := h.a["contacts"], h.b["contacts"]
			for i := range 5 {
				put(ac, fmt.Sprintf("a%d", i), "", "name", "P", "email", fmt.Sprintf("p%d@x.com", i))
			}
			h.sync()
			failing := map[string]*providertest.Memory{"a": ac, "b": bc}[tt.side]
			failing.ListErr = &providers.Error{Category: providers.ErrTransient, Provider: tt.side, Op: "list", Message: "502 bad gateway"}
			failing.ListErrAfter = tt.after

			p, err := h.ws.Plan(h.ctx)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if p.Complete {
				t.Error("plan after a failed listing is complete")
			}
			if c := p.Counts(); c.Delete+c.Suspend > 0 {
				t.Errorf("plan after a failed listing deletes: %v", writes(p))
			}
			if len(p.Warnings) == 0 || !strings.Contains(strings.Join(p.Warnings, "\n"), "502 bad gateway") {
				t.Errorf("warnings %q do not name the failure", p.Warnings)
			}
			if _, _, err := h.ws.Apply(h.ctx, p, engine.ApplyOptions{AllowMassDelete: true}); err == nil {
				t.Error("apply of an incomplete plan succeeded")
			}
			if _, _, err := h.ws.Apply(h.ctx, nil, engine.ApplyOptions{AllowMassDelete: true}); err == nil {
				t.Error("a fresh apply over a failing listing succeeded")
			}
			if n := ac.CallCount("delete") + bc.CallCount("delete"); n != 0 {
				t.Errorf("%d deletes after a failed listing", n)
			}
			if len(ac.All()) != 5 || len(bc.All()) != 5 {
				t.Errorf("records: a %d, b %d; want 5 each", len(ac.All()), len(bc.All()))
			}
			for _, l := range h.links("contacts") {
				if l.Status != state.LinkActive {
					t.Errorf("link %s -> %s is %s", l.SourceID, l.TargetID, l.Status)
				}
			}
		})
	}
}

// TestConvergence edits both sides of a two-way sync at random, round
// after round, and checks after each apply that a new plan is empty and
// every link holds the same shared values on both sides. Run with
// -seed=N (0 for a clock seed) and -rounds=N to explore.
func TestConvergence(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	for _, rule := range []string{"source_wins", "target_wins", "newest_wins"} {
		t.Run(rule, func(t *testing.T) {
			converge(t, rule, seed, *roundsFlag)
		})
	}
}

func converge(t *testing.T, rule string, seed int64, rounds int) {
	rng := rand.New(rand.NewSource(seed))
	fail := func(round int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, round %d (go test ./engine -run 'TestConvergence/%s' -seed=%d): %s", seed, round, rule, seed, fmt.Sprintf(format, args...))
	}
	h := newHarness(t)
	h.open(contactsSync(`  direction   = "two_way"
  conflict    = "`+rule+`"
  on_delete   = "suspend"
  max_deletes = "100%"
  suspend {
    tags_add = ["gone"]
  }`, mapAll, revAll))
	ac, bc := h.a["contacts"], h.b["contacts"]
	names := []string{"Ann", "Bob", "Cy", "Dee", ""}
	phones := []string{"+1555000", "+1555001", "+1555002", ""}
	tagPool := []string{"vip", "VIP", "lead", "client"}
	n := 0
	fresh := func() string { n++; return fmt.Sprintf("p%d@x.com", n) }
	value := func(field string) any {
		switch field {
		case "name":
			if s := names[rng.Intn(len(names))]; s != "" {
				return s
			}
			return nil
		case "phone":
			if s := phones[rng.Intn(len(phones))]; s != "" {
				return s
			}
			return nil
		case "email":
			return fresh()
		}
		var tags []string
		for _, tg := range tagPool {
			if rng.Intn(3) == 0 {
				tags = append(tags, tg)
			}
		}
		return tags
	}
	randomField := func() string { return []string{"name", "email", "phone", "tags"}[rng.Intn(4)] }
	pick := func(m *providertest.Memory) (providers.Record, bool) {
		all := m.All()
		if len(all) == 0 {
			return providers.Record{}, false
		}
		return all[rng.Intn(len(all))], true
	}
	newRecord := func(m *providertest.Memory, email string) {
		m.Put(providers.Record{Fields: fields("name", value("name"), "email", email, "phone", value("phone"), "tags", value("tags")),
			UpdatedAt: h.clock.Now()})
	}
	for i := range 4 {
		newRecord(ac, fresh())
		if i%2 == 0 {
			newRecord(bc, fresh())
		}
	}
	var journal []string
	// baseline holds, per linked source id, the values both sides agreed
	// on after the last round.
	baseline := map[string]map[string]cty.Value{}
	for round := 1; round <= rounds; round++ {
		for range 1 + rng.Intn(4) {
			switch r := rng.Intn(100); {
			case r < 30:
				if rec, ok := pick(ac); ok {
					f := randomField()
					journal = append(journal, fmt.Sprintf("r%d edit a %s %s", round, rec.ID, f))
					h.edit(ac, rec.ID, f, value(f))
				}
			case r < 60:
				if rec, ok := pick(bc); ok {
					f := randomField()
					journal = append(journal, fmt.Sprintf("r%d edit b %s %s", round, rec.ID, f))
					h.edit(bc, rec.ID, f, value(f))
				}
			case r < 75:
				// Both sides of one link change the same field.
				links := h.links("contacts")
				if len(links) == 0 {
					continue
				}
				l := links[rng.Intn(len(links))]
				_, okA := get(t, ac, l.SourceID)
				_, okB := get(t, bc, l.TargetID)
				if !okA || !okB {
					continue
				}
				f := randomField()
				journal = append(journal, fmt.Sprintf("r%d edit both %s/%s %s", round, l.SourceID, l.TargetID, f))
				h.edit(ac, l.SourceID, f, value(f))
				h.edit(bc, l.TargetID, f, value(f))
			case r < 85:
				journal = append(journal, fmt.Sprintf("r%d create a", round))
				newRecord(ac, fresh())
			case r < 93:
				journal = append(journal, fmt.Sprintf("r%d create b", round))
				newRecord(bc, fresh())
			case r < 96:
				// The same person entered on both sides.
				e := fresh()
				journal = append(journal, fmt.Sprintf("r%d create both %s", round, e))
				newRecord(ac, e)
				newRecord(bc, strings.ToUpper(e))
			case r < 98:
				if rec, ok := pick(ac); ok {
					journal = append(journal, fmt.Sprintf("r%d remove a %s", round, rec.ID))
					ac.Remove(rec.ID)
				}
			default:
				if rec, ok := pick(bc); ok {
					journal = append(journal, fmt.Sprintf("r%d remove b %s", round, rec.ID))
					bc.Remove(rec.ID)
				}
			}
		}
		// What each link should end up holding: the side that changed a
		// field since the last round wins it; both changed, the rule, but
		// a set field (tags) gets both sides' additions and removals.
		expect := map[string]map[string]cty.Value{}
		for _, l := range h.links("contacts") {
			sr, okA := get(t, ac, l.SourceID)
			tr, okB := get(t, bc, l.TargetID)
			was, known := baseline[l.SourceID]
			if l.Status != state.LinkActive || !okA || !okB || !known {
				continue
			}
			srcWins := map[string]bool{"source_wins": true, "target_wins": false, "newest_wins": sr.UpdatedAt.After(tr.UpdatedAt)}[rule]
			expect[l.SourceID] = map[string]cty.Value{}
			for _, f := range schemasA["contacts"].Fields {
				av, bv := sr.Fields[f.Name], tr.Fields[f.Name]
				aChanged, bChanged := !diff.Equal(f, av, was[f.Name]), !diff.Equal(f, bv, was[f.Name])
				switch {
				case aChanged && bChanged && f.Set:
					expect[l.SourceID][f.Name] = diff.MergeSet(f, av, bv, was[f.Name])
				case aChanged && bChanged && !srcWins, bChanged && !aChanged:
					expect[l.SourceID][f.Name] = bv
				default:
					expect[l.SourceID][f.Name] = av
				}
			}
		}
		p, err := h.ws.Plan(h.ctx)
		if err != nil || !p.Complete {
			fail(round, "plan: %v %v", err, p.Warnings)
		}
		if _, res, err := h.ws.Apply(h.ctx, p, engine.ApplyOptions{}); err != nil || len(res.Errors) > 0 {
			fail(round, "apply: %v %v\nedits:\n%s", err, res.Errors, strings.Join(journal, "\n"))
		}
		if p2 := h.plan(); p2.HasChanges() {
			fail(round, "plan after apply still writes:\n%s\nprevious plan:\n%s\nedits:\n%s",
				strings.Join(writes(p2), "\n"), strings.Join(writes(p), "\n"), strings.Join(journal, "\n"))
		}
		for _, l := range h.links("contacts") {
			if l.Status != state.LinkActive {
				continue
			}
			sr, okA := get(t, ac, l.SourceID)
			tr, okB := get(t, bc, l.TargetID)
			if okA != okB {
				fail(round, "active link %s -> %s has one record only (a %v, b %v)", l.SourceID, l.TargetID, okA, okB)
			}
			if !okA {
				continue // both gone: nothing to keep in step
			}
			for _, f := range schemasA["contacts"].Fields {
				if !diff.Equal(f, sr.Fields[f.Name], tr.Fields[f.Name]) {
					fail(round, "link %s -> %s: %s is %s on a, %s on b\nedits:\n%s", l.SourceID, l.TargetID, f.Name,
						sr.Fields[f.Name].GoString(), tr.Fields[f.Name].GoString(), strings.Join(journal, "\n"))
				}
				if want, ok := expect[l.SourceID][f.Name]; ok && !diff.Equal(f, want, sr.Fields[f.Name]) {
					fail(round, "link %s -> %s: %s is %s on both sides, want %s (the side that changed it, or the conflict rule)\nplan:\n%s\nedits:\n%s",
						l.SourceID, l.TargetID, f.Name, sr.Fields[f.Name].GoString(), want.GoString(), strings.Join(writes(p), "\n"), strings.Join(journal, "\n"))
				}
			}
			baseline[l.SourceID] = sr.Fields
		}
	}
	t.Logf("seed %d: %d rounds, %d a records, %d b records, %d links", seed, rounds, len(ac.All()), len(bc.All()), len(h.links("contacts")))
}

const childSyncs = `
sync "tasks" {
  source = a.tasks
  target = b.tasks
  parent = sync.contacts

  match {
    key "title" {
      source = source.title
      target = target.title
    }
  }

  map {
    title = source.title
    done  = source.done
  }
}
`

// TestChildSyncs: a task under a contact created in the same apply waits
// for it and lands under its new id; tasks whose contact is not linked are
// reported, naming the parent.
func TestChildSyncs(t *testing.T) {
	h := newHarness(t)
	h.open(contactsSync("", mapNameEmail, "") + childSyncs)
	ac, at, bt := h.a["contacts"], h.a["tasks"], h.b["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	put(ac, "a2", "", "name", "No Email")
	put(at, "t1", "a1", "title", "Call Ann", "done", false)
	put(at, "t2", "a2", "title", "Call nobody")
	put(at, "t3", "ghost", "title", "Orphaned task")

	p := h.plan()
	want := []step{
		{Sync: "contacts", Action: "create", Side: "target", Fields: []string{"name", "email"}},
		{Sync: "tasks", Action: "create", Side: "target", Fields: []string{"title", "done"}},
	}
	if diff := cmp.Diff(want, steps(p)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	for _, ch := range p.Sync("tasks") {
		if ch.Action == plan.Create && (ch.Await == nil || ch.Await.Sync != "contacts" || ch.Await.ID != "a1") {
			t.Errorf("task create waits for %+v, want contacts a1", ch.Await)
		}
	}
	gotSkips := skips(p)
	for _, parent := range []string{`"a2"`, `"ghost"`} {
		found := false
		for _, s := range gotSkips {
			if strings.Contains(s, "its parent contacts record "+parent+" is not linked") && strings.Contains(s, `sync "contacts"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no skip names parent %s; skips:\n%s", parent, strings.Join(gotSkips, "\n"))
		}
	}

	h.apply(p)
	bid := h.link("contacts", "a1").TargetID
	task := byField(t, bt, "title", "Call Ann")
	if task.ParentID != bid {
		t.Errorf("task landed under %q, want the new contact %q", task.ParentID, bid)
	}
	if l := h.link("tasks", "t1"); l.TargetParent != bid || l.SourceParent != "a1" {
		t.Errorf("task link parents = %q/%q, want a1/%s", l.SourceParent, l.TargetParent, bid)
	}
	h.settled("after the child sync")

	// The task changes; only it is written.
	h.edit(at, "t1", "done", true)
	p = h.plan()
	if diff := cmp.Diff([]step{{Sync: "tasks", Action: "update", Side: "target", Fields: []string{"done"}}}, steps(p)); diff != "" {
		t.Fatalf("plan after a task edit (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	h.apply(p)
	h.settled("after the task edit")
}

// welcomeSuspendConfig is welcomeConfig whose contacts sync suspends the
// survivor of a delete.
func welcomeSuspendConfig(t *testing.T) string {
	t.Helper()
	cfg := strings.Replace(welcomeConfig(), "  target = b.contacts\n", "  target = b.contacts\n  on_delete = \"suspend\"\n", 1)
	if !strings.Contains(cfg, "suspend") {
		t.Fatal("could not add on_delete to the config")
	}
	return cfg
}

// welcomeConfig is a contacts sync with a welcome task rule, and a tasks
// sync that mirrors the welcome task back.
func welcomeConfig() string {
	cfg := contactsSync("", mapNameEmail, "")
	cfg = strings.TrimSuffix(cfg, "}\n") + `
  on_create {
    create "b" "tasks" {
      title = "Welcome ${source.name}"
    }
  }
}

sync "tasks" {
  source = b.tasks
  target = a.tasks
  parent = sync.contacts

  match {
    key "title" {
      source = source.title
      target = target.title
    }
  }

  map {
    title = source.title
  }
}
`
	return cfg
}

// TestWelcomeTask: an on_create rule fires once per record bellsync
// creates, never on re-runs, never for adopted records, and never twice
// for one source record even when its link is made again. The welcome
// task is itself mirrored back by a child sync in the same apply.
func TestWelcomeTask(t *testing.T) {
	cfg := welcomeConfig()
	h := newHarness(t)
	h.open(cfg)
	ac, bc, at, bt := h.a["contacts"], h.b["contacts"], h.a["tasks"], h.b["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	put(ac, "a2", "", "name", "Bob", "email", "bob@x.com")
	put(bc, "bob", "", "name", "Bob", "email", "bob@x.com")

	p := h.plan()
	var followUps []string
	for _, ch := range p.Changes {
		for _, fu := range ch.FollowUps {
			followUps = append(followUps, ch.Source.ID+" "+fu.Rule)
		}
	}
	if diff := cmp.Diff([]string{"a1 contacts/on_create/0"}, followUps); diff != "" {
		t.Errorf("follow-ups (-want +got):\n%s", diff)
	}
	h.apply(nil)
	welcomes := func() []string {
		var out []string
		for _, m := range []*providertest.Memory{bt, at} {
			for _, r := range m.All() {
				out = append(out, fmt.Sprintf("%s %s", map[*providertest.Memory]string{bt: "b", at: "a"}[m], str(r, "title")))
			}
		}
		return out
	}
	want := []string{"b Welcome Ann", "a Welcome Ann"}
	if diff := cmp.Diff(want, welcomes()); diff != "" {
		t.Fatalf("tasks after the first apply (-want +got):\n%s", diff)
	}
	if got := byField(t, at, "title", "Welcome Ann").ParentID; got != "a1" {
		t.Errorf("mirrored welcome task is under %q, want a1", got)
	}
	h.settled("after the first apply")
	h.apply(nil)
	if diff := cmp.Diff(want, welcomes()); diff != "" {
		t.Fatalf("tasks after a re-run (-want +got):\n%s", diff)
	}

	// The link is made again from scratch: the contact is created anew,
	// but Ann already had her welcome.
	old := h.link("contacts", "a1").TargetID
	if err := h.ws.Store.DeleteLink(h.ctx, "contacts", "a1"); err != nil {
		t.Fatal(err)
	}
	bc.Remove(old)
	p = h.plan()
	if diff := cmp.Diff([]step{{Sync: "contacts", Action: "create", Side: "target", Fields: []string{"name", "email"}}}, steps(p)); diff != "" {
		t.Fatalf("plan after forgetting the link (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
	}
	h.apply(nil)
	if h.link("contacts", "a1").TargetID == old {
		t.Fatal("the link was not made again")
	}
	if diff := cmp.Diff(want, welcomes()); diff != "" {
		t.Errorf("tasks after the link was made again (-want +got):\n%s", diff)
	}
	h.settled("after the link was made again")
}

// TestWelcomeTaskRetriedAfterFailure: a welcome task whose create failed
// is not lost: no plan would fire the rule again for a linked record, so
// the next apply's recovery does, once.
func TestWelcomeTaskRetriedAfterFailure(t *testing.T) {
	h := newHarness(t)
	h.open(welcomeConfig())
	ac, bt := h.a["contacts"], h.b["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	down := &providers.Error{Category: providers.ErrTransient, Provider: "memory", Op: "create", Message: "HTTP 500"}
	bt.BeforeWrite = func(string, map[string]cty.Value) error { return down }
	_, res, err := h.ws.Apply(h.ctx, nil, engine.ApplyOptions{})
	if err != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "the next run tries again") {
		t.Fatalf("apply with a failing task create: %v %v; want one error saying it is retried", err, res.Errors)
	}
	if n := len(bt.All()); n != 0 {
		t.Fatalf("%d tasks after a failed create", n)
	}
	bt.BeforeWrite = nil
	h.apply(nil)
	if n := len(bt.All()); n != 1 {
		t.Errorf("%d welcome tasks after the retry, want 1", n)
	}
	h.apply(nil)
	if n := len(bt.All()); n != 1 {
		t.Errorf("%d welcome tasks after another apply, want 1", n)
	}
	h.settled("after the retried welcome task")
}

// TestDeleteHintWritesNoChildUnderTheGoneParent: a webhook saying a
// contact was deleted must not copy its counterpart's children (the
// welcome task) under the contact that no longer exists.
func TestDeleteHintWritesNoChildUnderTheGoneParent(t *testing.T) {
	h := newHarness(t)
	h.open(welcomeSuspendConfig(t))
	ac, at, bt := h.a["contacts"], h.a["tasks"], h.b["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	if res, err := h.ws.Record(h.ctx, schedule.Hint{Provider: "a", Kind: "contacts", ID: "a1"}); err != nil || len(res.Errors) > 0 {
		t.Fatalf("create hint: %v %v", err, res.Errors)
	}
	if len(bt.All()) != 1 || len(at.All()) != 0 {
		t.Fatalf("after the create hint: %d welcome tasks, %d mirrored; want 1 and 0 (mirrored by the next pass)", len(bt.All()), len(at.All()))
	}
	ac.Remove("a1")
	res, err := h.ws.Record(h.ctx, schedule.Hint{Provider: "a", Kind: "contacts", ID: "a1", Deleted: true})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("delete hint: %v %v", err, res.Errors)
	}
	if n := len(at.All()); n != 0 {
		t.Errorf("%d tasks written under the deleted contact", n)
	}
}

// TestInterruptedApplyIsRecordedSo: an apply stopped by Ctrl-C returns the
// context's error and its run is recorded as interrupted, not ok.
func TestInterruptedApplyIsRecordedSo(t *testing.T) {
	h := newHarness(t)
	h.open(contactsSync("", mapNameEmail, ""))
	ac, bc := h.a["contacts"], h.b["contacts"]
	for i := range 5 {
		put(ac, fmt.Sprintf("a%d", i), "", "name", "P", "email", fmt.Sprintf("p%d@x.com", i))
	}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	bc.AfterWrite = func(string, providers.Record) error { cancel(); return nil }
	_, _, err := h.ws.Apply(ctx, nil, engine.ApplyOptions{Workers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
	runs, err := h.ws.Store.Runs(h.ctx, 1)
	if err != nil || len(runs) != 1 || runs[0].Status != "interrupted" {
		t.Errorf("run history = %+v, %v; want the apply recorded as interrupted", runs, err)
	}
}

// TestChildrenOfASuspendedParentAreHistory: once a contact's counterpart
// is suspended, its own children (kept as history) are neither copied nor
// reported as records that cannot be synced, in plans or passes.
func TestChildrenOfASuspendedParentAreHistory(t *testing.T) {
	h := newHarness(t)
	h.open(welcomeSuspendConfig(t))
	ac, at, bt := h.a["contacts"], h.a["tasks"], h.b["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	h.sync()
	mirrored := len(at.All())
	ac.Remove("a1")
	h.sync()
	b1 := bt.All()[0]
	h.edit(bt, b1.ID, "title", "Welcome Ann, edited")
	p := h.plan()
	if n := p.Counts().Errors; n != 0 || p.HasChanges() {
		t.Errorf("plan after editing a suspended client's task: %d errors, changes %v:\n%s", n, p.HasChanges(), strings.Join(writes(p), "\n"))
	}
	for _, kind := range []schedule.PassKind{schedule.Incremental, schedule.Full} {
		res, err := h.ws.Pass(h.ctx, kind)
		if err != nil || len(res.Errors)+len(res.Skipped) > 0 {
			t.Errorf("%s pass: %v %v %v", kind, err, res.Errors, res.Skipped)
		}
	}
	if n := len(at.All()); n != mirrored {
		t.Errorf("%d tasks in a after the passes, want the %d mirrored before the delete", n, mirrored)
	}
}

// TestFailedChangeTriedOncePerApply: an apply plans again to carry out
// what its own writes caused (the welcome task's mirror); a change that
// failed in the first round is not tried again in the next, so it is
// written once and reported once.
func TestFailedChangeTriedOncePerApply(t *testing.T) {
	h := newHarness(t)
	h.open(welcomeConfig())
	ac, bc, at := h.a["contacts"], h.b["contacts"], h.a["tasks"]
	put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
	put(ac, "a2", "", "name", "Bob", "email", "bob@x.com")
	rejected := 0
	bc.BeforeWrite = func(_ string, fields map[string]cty.Value) error {
		if v, ok := fields["email"]; ok && !v.IsNull() && v.AsString() == "bob@x.com" {
			rejected++
			return &providers.Error{Category: providers.ErrTerminal, Provider: "memory", Op: "create", Status: 413, Message: "payload too large"}
		}
		return nil
	}
	_, res, err := h.ws.Apply(h.ctx, nil, engine.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[apply.Failed] != 1 || len(res.Errors) != 1 || rejected != 1 {
		t.Errorf("failed %d, errors %q, creates of Bob tried %d times; want 1, one error, 1", res.Counts[apply.Failed], res.Errors, rejected)
	}
	if n := len(at.All()); n != 1 {
		t.Errorf("%d mirrored welcome tasks, want 1 (the second round still ran)", n)
	}
}

// TestEditAfterSidesConvergedByHand: both sides are edited to the same
// value (nothing to write), then one side edits again. That later edit is
// the only change since the sides were last in step, so it must win
// whatever the conflict rule says.
func TestEditAfterSidesConvergedByHand(t *testing.T) {
	for _, tt := range []struct{ rule, editor string }{
		{"source_wins", "b"},
		{"target_wins", "a"},
		{"newest_wins", "a"},
		{"newest_wins", "b"},
	} {
		t.Run(tt.rule+"/"+tt.editor+" edits last", func(t *testing.T) {
			h := newHarness(t)
			h.open(contactsSync(`  direction = "two_way"
  conflict  = "`+tt.rule+`"`, mapNameEmail, revNameEmail))
			ac, bc := h.a["contacts"], h.b["contacts"]
			put(ac, "a1", "", "name", "Ann", "email", "ann@x.com")
			h.sync()
			bid := h.link("contacts", "a1").TargetID

			// Someone fixes the name on both sides by hand.
			h.edit(bc, bid, "name", "Ann Lee")
			h.edit(ac, "a1", "name", "Ann Lee")
			// Nothing is written to either side; only the link is
			// re-based.
			p := h.plan()
			if diff := cmp.Diff([]step{{Sync: "contacts", Action: "update", Side: "target"}}, steps(p)); diff != "" {
				t.Fatalf("plan after the same edit on both sides (-want +got):\n%s\n%s", diff, strings.Join(writes(p), "\n"))
			}
			updates := ac.CallCount("update") + bc.CallCount("update")
			h.apply(p)
			if n := ac.CallCount("update") + bc.CallCount("update") - updates; n != 0 {
				t.Errorf("re-basing the link made %d provider updates", n)
			}
			h.settled("after re-basing")

			// Then one side changes it again.
			editor, other, id, otherID := ac, bc, "a1", bid
			if tt.editor == "b" {
				editor, other, id, otherID = bc, ac, bid, "a1"
			}
			h.edit(editor, id, "name", "Ann Smith")
			p = h.plan()
			h.apply(p)
			r1, _ := get(t, editor, id)
			r2, _ := get(t, other, otherID)
			if str(r1, "name") != "Ann Smith" || str(r2, "name") != "Ann Smith" {
				t.Errorf("names after apply: editor %q, other %q; want both %q (the only edit since the sides agreed)\nplan:\n%s",
					str(r1, "name"), str(r2, "name"), "Ann Smith", strings.Join(writes(p), "\n"))
			}
		})
	}
}
