package diff

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/providertest"
)

var (
	srcSchema = providers.Schema{Kind: "contacts", Fields: []providers.Field{
		{Name: "name", Type: cty.String}, {Name: "email", Type: cty.String}, {Name: "phone", Type: cty.String},
		{Name: "tags", Type: cty.List(cty.String), Set: true, Fold: true},
	}, Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true}}
	tgtSchema = providers.Schema{Kind: "clients", Fields: []providers.Field{
		{Name: "name", Type: cty.String}, {Name: "email", Type: cty.String}, {Name: "phone", Type: cty.String},
		{Name: "emails", Type: cty.List(cty.String), Set: true},
		{Name: "tags", Type: cty.List(cty.String), Set: true},
	}, Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true}}
)

const testConfig = `
provider "a" {}
provider "b" {}
sync "people" {
  source = a.contacts
  target = b.clients
  match {
    key "email" {
      source = normalize_email(source.email)
      target = [for e in concat([target.email], target.emails == null ? [] : target.emails) : try(normalize_email(e), null)]
    }
    key "phone" {
      source = source.phone
      target = target.phone
    }
  }
  map {
    name  = source.name
    email = normalize_email(source.email)
    phone = source.phone
    tags  = normalize_tags(source.tags)
  }
}
`

func rec(id string, kv ...any) providers.Record {
	f := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			f[kv[i].(string)] = cty.StringVal(v)
		case []string:
			var vals []cty.Value
			for _, s := range v {
				vals = append(vals, cty.StringVal(s))
			}
			if len(vals) == 0 {
				f[kv[i].(string)] = cty.ListValEmpty(cty.String)
			} else {
				f[kv[i].(string)] = cty.ListVal(vals)
			}
		}
	}
	return providers.Record{ID: id, Fields: f}
}

func loadSync(t *testing.T) (*config.Sync, *config.Config) {
	t.Helper()
	cfg, diags := config.Parse("sync.hcl", []byte(testConfig))
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg.Syncs[0], cfg
}

// outcome is a change reduced to what the tests assert.
type outcome struct {
	Source, Action, Target string
	Fields                 []string
	Problem                string
}

func summarize(res Result) []outcome {
	var out []outcome
	for _, ch := range res.Changes {
		o := outcome{Source: ch.Source.ID, Action: ch.Action.String(), Target: ch.Target.ID}
		for _, f := range ch.Fields {
			o.Fields = append(o.Fields, f.Field)
		}
		if ch.Problem != "" {
			// The first words say which kind of problem it is.
			o.Problem = strings.SplitN(ch.Problem, ":", 2)[0]
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		sources   []providers.Record
		targets   []providers.Record
		links     []state.Link
		want      []outcome
		unchanged int
	}{
		{
			name:    "new source record is created with every non-null field",
			sources: []providers.Record{rec("s1", "name", "Ann", "email", " Ann@X.com ")},
			want:    []outcome{{Source: "s1", Action: "create", Fields: []string{"name", "email"}}},
		},
		{
			name:    "match by normalised email adopts the target and updates what differs",
			sources: []providers.Record{rec("s1", "name", "Ann B", "email", "ANN@x.com")},
			targets: []providers.Record{rec("t1", "name", "Ann", "email", "ann@x.com")},
			want:    []outcome{{Source: "s1", Action: "link", Target: "t1", Fields: []string{"name"}}},
		},
		{
			name:    "match through an additional email",
			sources: []providers.Record{rec("s1", "name", "Ann", "email", "work@x.com")},
			targets: []providers.Record{rec("t1", "name", "Ann", "email", "home@x.com", "emails", []string{"work@x.com"})},
			want:    []outcome{{Source: "s1", Action: "link", Target: "t1", Fields: []string{"email"}}},
		},
		{
			name:    "phone is the fallback key",
			sources: []providers.Record{rec("s1", "name", "Dev", "phone", "+1415")},
			targets: []providers.Record{rec("t1", "name", "Dev", "phone", "+1415")},
			want:    []outcome{{Source: "s1", Action: "link", Target: "t1"}},
		},
		{
			name:    "two sources sharing a primary identity are both skipped",
			sources: []providers.Record{rec("s1", "email", "m@x.com"), rec("s2", "email", "M@x.com ")},
			want: []outcome{
				{Source: "s1", Action: "error", Problem: "ambiguous identity"},
				{Source: "s2", Action: "error", Problem: "ambiguous identity"},
			},
		},
		{
			name:    "one source matching two targets is skipped",
			sources: []providers.Record{rec("s1", "email", "m@x.com")},
			targets: []providers.Record{rec("t1", "email", "m@x.com"), rec("t2", "email", "other@x.com", "emails", []string{"m@x.com"})},
			want:    []outcome{{Source: "s1", Action: "error", Problem: "ambiguous identity"}},
		},
		{
			name:    "a target already linked to another source is not taken",
			sources: []providers.Record{rec("s1", "email", "a@x.com"), rec("s2", "email", "b@x.com", "phone", "+1")},
			targets: []providers.Record{rec("t1", "email", "a@x.com", "phone", "+1")},
			links:   []state.Link{{Sync: "people", SourceID: "s1", TargetID: "t1"}},
			want: []outcome{
				{Source: "s1", Action: "update", Target: "t1", Fields: []string{"phone"}},
				{Source: "s2", Action: "create", Fields: []string{"email", "phone"}},
			},
		},
		{
			name:    "no identifier",
			sources: []providers.Record{rec("s1", "name", "Walk-in")},
			want:    []outcome{{Source: "s1", Action: "error", Problem: "no identifier"}},
		},
		{
			name:    "an empty email is no email",
			sources: []providers.Record{rec("s1", "name", "Kai", "email", "", "phone", "+1")},
			want:    []outcome{{Source: "s1", Action: "create", Fields: []string{"name", "phone"}}},
		},
		{
			name:    "an invalid email is a per-record error and the others go on",
			sources: []providers.Record{rec("s1", "email", "not-an-email"), rec("s2", "email", "ok@x.com")},
			want: []outcome{
				{Source: "s1", Action: "error", Problem: `invalid email address "not-an-email" (match key "email" at sync.hcl`},
				{Source: "s2", Action: "create", Fields: []string{"email"}},
			},
		},
		{
			name:      "tags compare as a set",
			sources:   []providers.Record{rec("s1", "email", "a@x.com", "tags", []string{" VIP", "vip", "Lead ", ""})},
			targets:   []providers.Record{rec("t1", "email", "a@x.com", "tags", []string{"vip", "lead"})},
			links:     []state.Link{{Sync: "people", SourceID: "s1", TargetID: "t1"}},
			unchanged: 1,
		},
		{
			name:    "a linked target that is gone is an orphan, not a create",
			sources: []providers.Record{rec("s1", "email", "a@x.com")},
			links:   []state.Link{{Sync: "people", SourceID: "s1", TargetID: "t9"}},
			want:    []outcome{{Source: "s1", Action: "orphan", Target: "t9", Problem: "linked b.clients record \"t9\" no longer exists; bellsync leaves this one alone and does not sync its edits (review with `bellsync state audit`; `bellsync state forget -sync people -orphans` lets it be synced afresh)"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sy, cfg := loadSync(t)
			src, tgt := providertest.NewMemory(srcSchema), providertest.NewMemory(tgtSchema)
			for _, r := range tc.sources {
				src.Put(r)
			}
			for _, r := range tc.targets {
				tgt.Put(r)
			}
			res, err := Plan(context.Background(), Input{Sync: sy, Source: src, Target: tgt, Links: tc.links,
				EvalContext: config.EvalContext(nil, cfg.BaseDir)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(res)); diff != "" {
				for _, ch := range res.Changes {
					t.Logf("%s %s: %s", ch.Action, ch.Source.ID, ch.Problem)
				}
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if res.Unchanged != tc.unchanged {
				t.Errorf("unchanged = %d, want %d", res.Unchanged, tc.unchanged)
			}
		})
	}
}

// TestEchoIsNotAChange: a target that stores what we wrote in its own form
// (here: upper-cased) must not be rewritten on every run, while a real
// source edit still goes through.
func TestEchoIsNotAChange(t *testing.T) {
	sy, cfg := loadSync(t)
	src, tgt := providertest.NewMemory(srcSchema), providertest.NewMemory(tgtSchema)
	src.Put(rec("s1", "email", "a@x.com", "name", "ann"))
	tgt.Put(rec("t1", "email", "a@x.com", "name", "ANN"))
	base, err := EncodeBase(Base{
		Wrote: map[string]cty.Value{"name": cty.StringVal("ann"), "email": cty.StringVal("a@x.com")},
		Seen:  map[string]cty.Value{"name": cty.StringVal("ANN"), "email": cty.StringVal("a@x.com")},
	})
	if err != nil {
		t.Fatal(err)
	}
	links := []state.Link{{Sync: "people", SourceID: "s1", TargetID: "t1", TargetBase: base}}
	in := Input{Sync: sy, Source: src, Target: tgt, Links: links, EvalContext: config.EvalContext(nil, cfg.BaseDir)}
	res, err := Plan(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Unchanged != 1 {
		t.Fatalf("echo planned as a change: %+v", summarize(res))
	}

	src.Put(rec("s1", "email", "a@x.com", "name", "anna"))
	res, err = Plan(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{{Source: "s1", Action: "update", Target: "t1", Fields: []string{"name"}}}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("source edit (-want +got):\n%s", diff)
	}
	if got := res.Changes[0].Fields[0].Reason; got != "source changed" {
		t.Errorf("reason = %q, want %q", got, "source changed")
	}
	if got := res.Changes[0].Fields[0].Origin; !strings.HasPrefix(got, "sync.hcl:") {
		t.Errorf("origin = %q, want sync.hcl:LINE", got)
	}
}

// TestFailedListingIsAnError: a listing cut short must never become a
// plan, since absence in it proves nothing.
func TestFailedListingIsAnError(t *testing.T) {
	sy, cfg := loadSync(t)
	src, tgt := providertest.NewMemory(srcSchema), providertest.NewMemory(tgtSchema)
	src.Put(rec("s1", "email", "a@x.com"))
	tgt.Put(rec("t1", "email", "a@x.com"))
	tgt.Put(rec("t2", "email", "b@x.com"))
	tgt.ListErr, tgt.ListErrAfter = errors.New("connection reset"), 1
	_, err := Plan(context.Background(), Input{Sync: sy, Source: src, Target: tgt, EvalContext: config.EvalContext(nil, cfg.BaseDir)})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v, want the listing error", err)
	}
}

func TestCanon(t *testing.T) {
	tags := providers.Field{Set: true, Fold: true, Type: cty.List(cty.String)}
	str := providers.Field{Type: cty.String}
	tests := []struct {
		name string
		f    providers.Field
		a, b cty.Value
		want bool
	}{
		{"null equals empty string", str, cty.NullVal(cty.String), cty.StringVal(""), true},
		{"strings are case sensitive", str, cty.StringVal("A"), cty.StringVal("a"), false},
		{"sets ignore order and case", tags, cty.ListVal([]cty.Value{cty.StringVal("VIP"), cty.StringVal("lead")}),
			cty.ListVal([]cty.Value{cty.StringVal("lead"), cty.StringVal("vip")}), true},
		{"empty list equals null", tags, cty.ListValEmpty(cty.String), cty.NullVal(cty.List(cty.String)), true},
		{"nil value is null", str, cty.NilVal, cty.NullVal(cty.String), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Equal(tc.f, tc.a, tc.b); got != tc.want {
				t.Errorf("Equal(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestRecordObjectRoundTrip: the record object kept in a plan turns back
// into a record with the same fingerprint, including for a kind whose own
// updated_at field is written in another format than bellsync's.
func TestRecordObjectRoundTrip(t *testing.T) {
	withOwn := providers.Schema{Kind: "clients", Fields: append([]providers.Field{
		{Name: "updated_at", Type: cty.String, ReadOnly: true}}, tgtSchema.Fields...)}
	at := time.Date(2020, 2, 10, 9, 39, 2, 0, time.UTC)
	tests := []struct {
		name   string
		schema providers.Schema
		rec    providers.Record
	}{
		{"plain", srcSchema, providers.Record{ID: "c1", UpdatedAt: at, Fields: map[string]cty.Value{
			"name": cty.StringVal("Ann"), "tags": cty.ListVal([]cty.Value{cty.StringVal("VIP")})}}},
		{"own updated_at", withOwn, providers.Record{ID: "p1", ParentID: "x", UpdatedAt: at, Fields: map[string]cty.Value{
			"updated_at": cty.StringVal("2020-02-10T09:39:02Z"), "email": cty.StringVal("a@b.co")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			back := RecordFrom(tc.schema, recordObject(tc.schema, tc.rec))
			if back.ID != tc.rec.ID || back.ParentID != tc.rec.ParentID {
				t.Errorf("ids: got %q/%q, want %q/%q", back.ID, back.ParentID, tc.rec.ID, tc.rec.ParentID)
			}
			if got, want := Digest(tc.schema, back), Digest(tc.schema, tc.rec); got != want {
				t.Errorf("digest after a round trip %s, want %s", got, want)
			}
		})
	}
}

// repeating lists each record twice, the second time as edited, as a
// paged listing over records that change meanwhile can.
type repeating struct {
	*providertest.Memory
}

func (r repeating) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	return r.Memory.List(ctx, opts, func(rec providers.Record) error {
		if err := fn(rec); err != nil {
			return err
		}
		again := rec
		again.Fields = map[string]cty.Value{}
		for k, v := range rec.Fields {
			again.Fields[k] = v
		}
		again.Fields["name"] = cty.StringVal("Edited")
		return fn(again)
	})
}

// TestRepeatedRecordsInAListing: a record listed twice is diffed once, as
// last listed, and the plan says so, rather than the record being
// reported as an ambiguous duplicate of itself.
func TestRepeatedRecordsInAListing(t *testing.T) {
	sy, cfg := loadSync(t)
	src, tgt := providertest.NewMemory(srcSchema), providertest.NewMemory(tgtSchema)
	src.Put(rec("s1", "name", "Ann", "email", "a@x.com"))
	res, err := Plan(context.Background(), Input{Sync: sy, Source: repeating{src}, Target: tgt, EvalContext: config.EvalContext(nil, cfg.BaseDir)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]outcome{{Source: "s1", Action: "create", Fields: []string{"name", "email"}}}, summarize(res)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if got := res.Changes[0].Fields[0].New; got != cty.StringVal("Edited") {
		t.Errorf("name planned from %#v, want the last listed version", got)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "returned 1 record more than once") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}
