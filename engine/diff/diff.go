// Package diff compares the two sides of one sync block and produces the
// changes that would bring them in step. It reads records through the
// provider contract, identifies them through the link table first and the
// sync's match keys second, evaluates the sync's field maps, and compares
// each field three ways: the desired value, the current value, and the base
// snapshot of what both sides held the last time they were in step.
//
// It never writes. Ambiguity is reported, never guessed: two records that
// claim one identity, or one record that matches two, become Skip changes
// that name the records involved.
package diff

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Input is everything one sync's diff needs.
type Input struct {
	Sync   *config.Sync
	Source providers.Resource
	Target providers.Resource
	Links  []state.Link
	// EvalContext holds the config's functions; per-record variables are
	// added in child contexts.
	EvalContext *hcl.EvalContext
	// Parents pairs parent records, for a child sync (tasks, notes).
	Parents *Parents
	// Rules are the sync's on_create rules with their resources.
	Rules []Rule
	// Records, when set, replaces the full listings: only these records
	// are diffed (an incremental pass, or one webhook's record). Deletes
	// are never inferred from a partial read.
	Records *Partial
}

// Partial is the subset of records an incremental diff looks at.
type Partial struct {
	Sources []providers.Record
	Targets []providers.Record
	// GoneSources and GoneTargets are ids confirmed deleted (a delete
	// webhook, then a read that found nothing): their links get the delete
	// policy, as a complete listing would give them.
	GoneSources []string
	GoneTargets []string
}

// Rule is an on_create rule bound to the resource it creates records in.
type Rule struct {
	ID       string
	Config   *config.CreateRule
	Resource providers.Resource
}

// Result is one sync's share of a plan.
type Result struct {
	Changes   []plan.Change
	Unchanged int
	// Links counts active links, the base of a percentage max_deletes.
	Links int
	// Gone lists the linked records a complete listing no longer has,
	// whatever the delete policy made of them. A child sync's diff needs
	// it: children that vanished with their parent are the parent sync's
	// business, not the child's.
	Gone Gone
	// Warnings are sync-wide notes for the plan.
	Warnings []string
}

// Gone holds record ids by side.
type Gone struct {
	Sources, Targets []string
}

type sourceItem struct {
	rec     providers.Record
	obj     cty.Value
	keys    [][]string // per match key, the record's values
	problem string
	link    *state.Link
	scope   string // the target parent the record belongs under
	await   *plan.ParentWait
}

type targetItem struct {
	rec     providers.Record
	obj     cty.Value
	keys    [][]string
	problem string
	link    *state.Link
	scope   string // the source parent, in a child sync
	await   *plan.ParentWait
	claimed bool
}

// Plan reads both sides of one sync and diffs them. An error means a
// listing failed; the caller must treat the whole plan as incomplete.
func Plan(ctx context.Context, in Input) (Result, error) {
	d := newDiffer(in)
	var sources, targets []providers.Record
	var err error
	if in.Records != nil {
		sources, targets = in.Records.Sources, in.Records.Targets
	} else if sources, targets, err = d.read(ctx); err != nil {
		return Result{}, err
	}
	var warnings []string
	for _, side := range []struct {
		recs *[]providers.Record
		ref  config.Ref
	}{{&sources, in.Sync.Source}, {&targets, in.Sync.Target}} {
		var n int
		if *side.recs, n = dedupe(*side.recs); n > 0 {
			what := fmt.Sprintf("%d records", n)
			if n == 1 {
				what = "1 record"
			}
			warnings = append(warnings, fmt.Sprintf("sync %q: the %s listing returned %s more than once (paging over records that changed meanwhile?); each was diffed once, as last listed",
				in.Sync.Name, side.ref, what))
		}
	}
	res := d.run(sources, targets)
	res.Warnings = warnings
	return res, nil
}

// dedupe keeps one record per id, the last one listed (a later page saw
// the record more recently), at its first position, and counts the
// repeats. Diffing a record twice would report it as its own duplicate.
func dedupe(recs []providers.Record) ([]providers.Record, int) {
	at := make(map[string]int, len(recs))
	out := recs[:0:0]
	repeats := 0
	for _, r := range recs {
		if i, ok := at[r.ID]; ok && r.ID != "" {
			out[i] = r
			repeats++
			continue
		}
		at[r.ID] = len(out)
		out = append(out, r)
	}
	if repeats == 0 {
		return recs, 0
	}
	return out, repeats
}

type differ struct {
	in      Input
	gone    Gone // what confirmedGone found, for Result.Gone
	ss, ts  providers.Schema
	twoWay  bool
	shared  map[string]bool     // map fields that a reverse_map entry reads
	readsOf map[string][]string // reverse field -> target fields it reads
}

func newDiffer(in Input) *differ {
	d := &differ{in: in, ss: in.Source.Schema(), ts: in.Target.Schema(), twoWay: in.Sync.Direction == "two_way",
		shared: map[string]bool{}, readsOf: map[string][]string{}}
	mapped := map[string]bool{}
	for _, m := range in.Sync.Map {
		mapped[m.Field] = true
	}
	for _, m := range in.Sync.ReverseMap {
		for _, f := range ReadFields(m.Expr, "target") {
			d.readsOf[m.Field] = append(d.readsOf[m.Field], f)
			if mapped[f] {
				d.shared[f] = true
			}
		}
	}
	return d
}

// ReadFields lists the fields of root (source or target) an expression
// reads, for ownership and shared-field analysis.
func ReadFields(expr hcl.Expression, root string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		if tr.RootName() != root || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok && !seen[a.Name] {
			seen[a.Name] = true
			out = append(out, a.Name)
		}
	}
	return out
}

// read lists both sides. For a child sync it reads only under the parents
// that are linked (or about to be), and uses an account-wide listing where
// the provider has one rather than a call per parent.
func (d *differ) read(ctx context.Context) ([]providers.Record, []providers.Record, error) {
	collect := func(r providers.Resource, parent string, dst *[]providers.Record) error {
		return r.List(ctx, providers.ListOptions{ParentID: parent}, func(rec providers.Record) error {
			*dst = append(*dst, rec)
			return nil
		})
	}
	var sources, targets []providers.Record
	if d.in.Parents == nil {
		if err := collect(d.in.Target, "", &targets); err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", d.in.Sync.Target, err)
		}
		if err := collect(d.in.Source, "", &sources); err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", d.in.Sync.Source, err)
		}
		return sources, targets, nil
	}
	p := d.in.Parents
	side := func(r providers.Resource, ref config.Ref, parents []string, dst *[]providers.Record) error {
		if r.Schema().Caps.ListAll {
			if err := collect(r, "", dst); err != nil {
				return fmt.Errorf("list %s: %w", ref, err)
			}
			return nil
		}
		err := ListUnder(ctx, r, parents, func(rec providers.Record) error {
			*dst = append(*dst, rec)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s %w", ref, err)
		}
		return nil
	}
	if err := side(d.in.Source, d.in.Sync.Source, p.sourceParents(), &sources); err != nil {
		return nil, nil, err
	}
	if err := side(d.in.Target, d.in.Sync.Target, p.targetParents(), &targets); err != nil {
		return nil, nil, err
	}
	return sources, targets, nil
}

func (d *differ) run(srcRecs, tgtRecs []providers.Record) Result {
	var res Result
	sy := d.in.Sync
	partial := d.in.Records != nil
	linkBySource := map[string]*state.Link{}
	linkByTarget := map[string]*state.Link{}
	for i := range d.in.Links {
		l := &d.in.Links[i]
		if l.Status != "" && l.Status != state.LinkActive {
			// Suspended and deleted links keep their history but take no
			// further part: the record is not re-created or re-linked.
			linkBySource[l.SourceID] = l
			linkByTarget[l.TargetID] = l
			continue
		}
		res.Links++
		linkBySource[l.SourceID] = l
		linkByTarget[l.TargetID] = l
	}

	targets := make([]*targetItem, 0, len(tgtRecs))
	byID := map[string]*targetItem{}
	for _, r := range tgtRecs {
		t := &targetItem{rec: r, obj: recordObject(d.ts, r), link: linkByTarget[r.ID]}
		if d.in.Parents != nil {
			t.scope, t.await = d.in.Parents.sourceFor(r.ParentID)
		}
		t.keys, t.problem = d.keys(t.obj, "target", func(k *config.MatchKey) hcl.Expression { return k.Target })
		targets = append(targets, t)
		byID[r.ID] = t
	}
	sources := make([]*sourceItem, 0, len(srcRecs))
	seenSource := map[string]bool{}
	for _, r := range srcRecs {
		s := &sourceItem{rec: r, obj: recordObject(d.ss, r), link: linkBySource[r.ID]}
		if d.in.Parents != nil {
			s.scope, s.await = d.in.Parents.targetFor(r.ParentID)
		}
		s.keys, s.problem = d.keys(s.obj, "source", func(k *config.MatchKey) hcl.Expression { return k.Source })
		sources = append(sources, s)
		seenSource[r.ID] = true
	}

	// Index targets by scope and every value of every match key.
	index := map[string][]*targetItem{}
	for _, t := range targets {
		for ki, vals := range t.keys {
			for _, v := range vals {
				k := indexKey(t.rec.ParentID, ki, v)
				index[k] = append(index[k], t)
			}
		}
	}

	// Primary identities shared by several unlinked sources are ambiguous:
	// creating one record per source would duplicate a person.
	primary := map[string][]*sourceItem{}
	for _, s := range sources {
		if s.link == nil && s.problem == "" {
			if ki, v := primaryKey(s.keys); ki >= 0 {
				// Siblings share a parent; records under different parents
				// may well have the same title.
				k := indexKey(s.rec.ParentID, ki, v)
				primary[k] = append(primary[k], s)
			}
		}
	}

	type claim struct {
		s      *sourceItem
		t      *targetItem
		reason string
	}
	var claims []claim
	claimed := map[string][]*sourceItem{}
	for _, s := range sources {
		if s.link != nil {
			if s.link.Status != "" && s.link.Status != state.LinkActive {
				continue
			}
			t := byID[s.link.TargetID]
			if t != nil {
				t.claimed = true
			}
			switch {
			case t != nil:
				if ch, ok := d.pair(s, t, plan.Update, "linked"); ok {
					res.Changes = append(res.Changes, ch)
				} else {
					res.Unchanged++
				}
			case partial:
				// The target was not read; nothing can be said about it.
			case d.in.Parents.targetParentGone(s.link.TargetParent):
				// The target went with its parent (a deleted contact takes
				// its tasks along); the parent sync's policy keeps or
				// removes this side's parent, and with it this record.
				res.Gone.Targets = append(res.Gone.Targets, s.link.TargetID)
				res.Unchanged++
			case d.twoWay:
				res.Gone.Targets = append(res.Gone.Targets, s.link.TargetID)
				if chs := d.deleted(s.link, plan.SideSource, s.rec, s.obj); len(chs) > 0 {
					res.Changes = append(res.Changes, chs...)
				} else {
					// retain: say so, or edits to the survivor would be
					// dropped without a word.
					res.Changes = append(res.Changes, d.orphan(s))
				}
			default:
				res.Gone.Targets = append(res.Gone.Targets, s.link.TargetID)
				res.Changes = append(res.Changes, d.orphan(s))
			}
			continue
		}
		if s.problem != "" {
			res.Changes = append(res.Changes, d.skipSource(s, s.problem))
			continue
		}
		ki, v := primaryKey(s.keys)
		if ki < 0 {
			res.Changes = append(res.Changes, d.skipSource(s, "no identifier: the record has no value for any match key ("+keyNames(sy)+")"))
			continue
		}
		if group := primary[indexKey(s.rec.ParentID, ki, v)]; len(group) > 1 {
			res.Changes = append(res.Changes, d.skipSource(s, fmt.Sprintf("ambiguous identity: %s %q is shared by %d source records (%s); resolve the duplicate, bellsync will not guess",
				sy.Match[ki].Name, v, len(group), sourceIDs(group))))
			continue
		}
		t, reason, problem := d.match(s, index)
		switch {
		case problem != "":
			res.Changes = append(res.Changes, d.skipSource(s, problem))
		case t != nil:
			claims = append(claims, claim{s, t, reason})
			claimed[t.rec.ID] = append(claimed[t.rec.ID], s)
		case d.in.Parents.targetParentGone(s.scope),
			s.scope == "" && s.await == nil && d.in.Parents.sourceParentGone(s.rec.ParentID):
			// Its parent's counterpart is gone (being suspended or
			// deleted in this very run, or retired by an earlier one):
			// nowhere to put a copy, and the parent sync's on_delete has
			// decided what becomes of the parent and what hangs off it.
			res.Unchanged++
		default:
			res.Changes = append(res.Changes, d.create(s))
		}
	}
	for _, c := range claims {
		c.t.claimed = true
		if others := claimed[c.t.rec.ID]; len(others) > 1 {
			res.Changes = append(res.Changes, d.skipSource(c.s, fmt.Sprintf("ambiguous identity: %d source records (%s) match the same %s record %q; bellsync will not guess",
				len(others), sourceIDs(others), sy.Target, c.t.rec.ID)))
			continue
		}
		ch, _ := d.pair(c.s, c.t, plan.Link, c.reason)
		res.Changes = append(res.Changes, ch)
	}

	if partial {
		res.Changes = append(res.Changes, d.confirmedGone(byID, linkBySource)...)
		res.Gone.Sources = append(res.Gone.Sources, d.gone.Sources...)
		res.Gone.Targets = append(res.Gone.Targets, d.gone.Targets...)
	}
	// Links whose source record is gone: the delete policy decides.
	if !partial {
		for i := range d.in.Links {
			l := &d.in.Links[i]
			if (l.Status != "" && l.Status != state.LinkActive) || seenSource[l.SourceID] {
				continue
			}
			res.Gone.Sources = append(res.Gone.Sources, l.SourceID)
			if d.in.Parents.sourceParentGone(l.SourceParent) {
				// Gone with its parent; see targetParentGone above.
				if t := byID[l.TargetID]; t != nil {
					t.claimed = true
					res.Unchanged++
				}
				continue
			}
			if t := byID[l.TargetID]; t != nil {
				t.claimed = true
				if chs := d.deleted(l, plan.SideTarget, t.rec, t.obj); len(chs) > 0 {
					res.Changes = append(res.Changes, chs...)
				} else {
					res.Changes = append(res.Changes, d.orphanTarget(l, t))
				}
			}
		}
	}

	// A two-way sync backfills: targets nobody claimed become new source
	// records, with the same care about ambiguity.
	if d.twoWay {
		res.Changes = append(res.Changes, d.backfill(targets, sources)...)
	}
	return res
}

func indexKey(scope string, ki int, v string) string {
	return fmt.Sprintf("%s\x00%d\x00%s", scope, ki, v)
}

// keys evaluates a record's match keys; problems make the record unusable
// for matching (but a linked record does not need them).
func (d *differ) keys(obj cty.Value, name string, pick func(*config.MatchKey) hcl.Expression) ([][]string, string) {
	sy := d.in.Sync
	keys := make([][]string, len(sy.Match))
	p := problems{}
	for ki, k := range sy.Match {
		vals, err := d.keyValues(pick(k), name, obj)
		if err != nil {
			p.add(err.Error(), fmt.Sprintf("match key %q at %s", k.Name, origin(pick(k).Range())))
			continue
		}
		keys[ki] = vals
	}
	return keys, p.String()
}

// SharesKey reports whether a source and a target record object (as kept
// in a plan) have a value of some match key in common, and names it. A
// saved plan's links are checked with it, so an edited plan file cannot
// pair records the config would never pair.
func SharesKey(in Input, src, tgt cty.Value) (string, bool) {
	d := newDiffer(in)
	sk, _ := d.keys(src, "source", func(k *config.MatchKey) hcl.Expression { return k.Source })
	tk, _ := d.keys(tgt, "target", func(k *config.MatchKey) hcl.Expression { return k.Target })
	for ki := range sk {
		for _, a := range sk[ki] {
			if slices.Contains(tk[ki], a) {
				return fmt.Sprintf("%s %q", in.Sync.Match[ki].Name, a), true
			}
		}
	}
	return "", false
}

// keyValues evaluates a match key expression to its non-empty strings.
func (d *differ) keyValues(expr hcl.Expression, name string, obj cty.Value) ([]string, error) {
	evalCtx := d.in.EvalContext.NewChild()
	evalCtx.Variables = map[string]cty.Value{name: obj}
	v, diags := expr.Value(evalCtx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diagText(diags))
	}
	var out []string
	var walk func(cty.Value) error
	walk = func(v cty.Value) error {
		if v.IsNull() || !v.IsKnown() {
			return nil
		}
		t := v.Type()
		switch {
		case t == cty.String:
			if s := v.AsString(); s != "" {
				out = append(out, s)
			}
		case t.IsListType() || t.IsSetType() || t.IsTupleType():
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if err := walk(e); err != nil {
					return err
				}
			}
		case t == cty.Number:
			out = append(out, v.AsBigFloat().Text('f', -1))
		default:
			return fmt.Errorf("a match key must be a string or a list of strings, not %s", t.FriendlyName())
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	return out, nil
}

// match finds the one target a source identifies, trying keys in order,
// within the source's scope (its parent, for a child sync).
func (d *differ) match(s *sourceItem, index map[string][]*targetItem) (*targetItem, string, string) {
	sy := d.in.Sync
	primary, _ := primaryKey(s.keys)
	if s.await != nil {
		// The parent does not exist on the target yet, so neither can a
		// counterpart under it.
		return nil, "", ""
	}
	for ki, vals := range s.keys {
		found := map[string]*targetItem{}
		var order []string
		via := ""
		for _, v := range vals {
			for _, t := range index[indexKey(s.scope, ki, v)] {
				if found[t.rec.ID] == nil {
					found[t.rec.ID] = t
					order = append(order, t.rec.ID)
					via = v
				}
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			t := found[order[0]]
			if t.link != nil && t.link.SourceID != s.rec.ID {
				if ki != primary {
					// A fallback key (a shared family phone) pointing at
					// someone else's record says nothing about this one.
					continue
				}
				if t.link.Status == state.LinkSuspended || t.link.Status == state.LinkDeleted {
					// The usual story: a contact deleted and entered again.
					// Re-linking the retired record silently would revive
					// what the delete policy put away, so the user decides.
					return nil, "", fmt.Sprintf("%s %q matches %s record %q, which was %s when its linked source record %q was deleted; to link this record to it, run `bellsync state forget -sync %s %s`, then plan again (its archive flag, if set, stays: clear it in that system if the person is back)",
						sy.Match[ki].Name, via, sy.Target, t.rec.ID, t.link.Status, t.link.SourceID, sy.Name, t.link.SourceID)
				}
				return nil, "", fmt.Sprintf("ambiguous identity: %s %q matches %s record %q, which is already linked to source record %q; bellsync will not guess",
					sy.Match[ki].Name, via, sy.Target, t.rec.ID, t.link.SourceID)
			}
			return t, fmt.Sprintf("matched by %s %q", sy.Match[ki].Name, via), ""
		default:
			sort.Strings(order)
			return nil, "", fmt.Sprintf("ambiguous identity: %s %v matches %d %s records (%s); bellsync will not guess",
				sy.Match[ki].Name, vals, len(found), sy.Target, strings.Join(order, ", "))
		}
	}
	return nil, "", ""
}

// backfill turns unclaimed, unlinked targets of a two-way sync into source
// creates.
func (d *differ) backfill(targets []*targetItem, sources []*sourceItem) []plan.Change {
	sy := d.in.Sync
	var out []plan.Change
	// Sources by key value, linked ones included: a target that shares an
	// identity with a source that already has a counterpart is someone's
	// duplicate, and creating it on the source side would merge or clash.
	bySourceKey := map[string]*sourceItem{}
	for _, s := range sources {
		for ki, vals := range s.keys {
			for _, v := range vals {
				bySourceKey[indexKey(s.scope, ki, v)] = s
			}
		}
	}
	primary := map[string][]*targetItem{}
	for _, t := range targets {
		if t.claimed || t.link != nil || t.problem != "" {
			continue
		}
		if ki, v := primaryKey(t.keys); ki >= 0 {
			k := indexKey(t.rec.ParentID, ki, v)
			primary[k] = append(primary[k], t)
		}
	}
	for _, t := range targets {
		if t.claimed || t.link != nil {
			continue
		}
		if d.in.Parents != nil && t.scope == "" && t.await == nil {
			// Its parent is not linked: it belongs to someone this sync
			// does not know, and is left alone.
			continue
		}
		if d.in.Parents.sourceParentGone(t.scope) {
			continue // as for creates above
		}
		if t.problem != "" {
			out = append(out, d.skipTarget(t, t.problem))
			continue
		}
		ki, v := primaryKey(t.keys)
		if ki < 0 {
			out = append(out, d.skipTarget(t, "no identifier: the record has no value for any match key ("+keyNames(sy)+")"))
			continue
		}
		if group := primary[indexKey(t.rec.ParentID, ki, v)]; len(group) > 1 {
			ids := make([]string, len(group))
			for i, g := range group {
				ids[i] = g.rec.ID
			}
			sort.Strings(ids)
			out = append(out, d.skipTarget(t, fmt.Sprintf("ambiguous identity: %s %q is shared by %d %s records (%s); bellsync will not guess",
				sy.Match[ki].Name, v, len(group), sy.Target, strings.Join(ids, ", "))))
			continue
		}
		if s, ok := bySourceKey[indexKey(t.rec.ParentID, ki, v)]; ok {
			why := "which is not linked to it"
			if s.link != nil {
				why = fmt.Sprintf("which is linked to %s record %q", sy.Target, s.link.TargetID)
			}
			out = append(out, d.skipTarget(t, fmt.Sprintf("ambiguous identity: %s %q is also %s record %q's, %s; resolve the duplicate, bellsync will not guess",
				sy.Match[ki].Name, v, sy.Source, s.rec.ID, why)))
			continue
		}
		out = append(out, d.createSource(t))
	}
	return out
}

func primaryKey(keys [][]string) (int, string) {
	for ki, vals := range keys {
		if len(vals) > 0 {
			return ki, vals[0]
		}
	}
	return -1, ""
}

func keyNames(sy *config.Sync) string {
	var n []string
	for _, k := range sy.Match {
		n = append(n, k.Name)
	}
	return strings.Join(n, ", ")
}

func sourceIDs(items []*sourceItem) string {
	ids := make([]string, len(items))
	for i, s := range items {
		ids[i] = s.rec.ID
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// origin is the short "file:line" of a config range.
func origin(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", filepath.Base(r.Filename), r.Start.Line)
}

// diagText flattens diagnostics into one line for a per-record problem.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg = d.Detail
			// A failed function call's detail repeats the call; the
			// function's own words are what the user needs.
			if _, after, ok := strings.Cut(msg, " failed: "); ok && strings.HasPrefix(msg, "Call to function") {
				msg = after
			}
			msg = strings.TrimSuffix(msg, ".")
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

// problems collects per-record messages, naming each once with every
// place it came from (an invalid email fails the email key and the email
// field alike; saying so twice helps nobody).
type problems struct {
	order []string
	where map[string][]string
}

func (p *problems) add(msg, where string) {
	if p.where == nil {
		p.where = map[string][]string{}
	}
	if _, ok := p.where[msg]; !ok {
		p.order = append(p.order, msg)
	}
	p.where[msg] = append(p.where[msg], where)
}

func (p problems) String() string {
	var parts []string
	for _, m := range p.order {
		parts = append(parts, fmt.Sprintf("%s (%s)", m, strings.Join(p.where[m], ", ")))
	}
	return strings.Join(parts, "; ")
}

// confirmedGone applies the delete policy to links whose record a partial
// read confirmed deleted. The survivor is read by the caller into the
// partial records.
func (d *differ) confirmedGone(targets map[string]*targetItem, linkBySource map[string]*state.Link) []plan.Change {
	var out []plan.Change
	p := d.in.Records
	for _, id := range p.GoneSources {
		l := linkBySource[id]
		if l == nil || (l.Status != "" && l.Status != state.LinkActive) {
			continue
		}
		d.gone.Sources = append(d.gone.Sources, id)
		if t := targets[l.TargetID]; t != nil {
			out = append(out, d.deleted(l, plan.SideTarget, t.rec, t.obj)...)
		}
	}
	if !d.twoWay {
		return out
	}
	for _, id := range p.GoneTargets {
		for i := range d.in.Links {
			l := &d.in.Links[i]
			if l.TargetID != id || (l.Status != "" && l.Status != state.LinkActive) {
				continue
			}
			d.gone.Targets = append(d.gone.Targets, id)
			for _, s := range p.Sources {
				if s.ID == l.SourceID {
					out = append(out, d.deleted(l, plan.SideSource, s, recordObject(d.ss, s))...)
				}
			}
		}
	}
	return out
}
