// Package diff compares the two sides of one sync block and produces the
// changes that would bring them in step. It reads records through the
// provider contract, identifies them through the link table first and the
// sync's match keys second, evaluates the sync's field maps, and compares
// each field three ways: the desired value, the target's current value, and
// the base snapshot of what bellsync last wrote and saw.
//
// It never writes. Ambiguity is reported, never guessed: two source records
// that claim one identity, or one source that matches two targets, become
// Skip changes that name the records involved.
package diff

import (
	"context"
	"fmt"
	"path/filepath"
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
	// SourceName and TargetName are the provider names as written in
	// sync.hcl, for record addresses.
	Links []state.Link
	// EvalContext holds the config's functions; per-record variables are
	// added in child contexts.
	EvalContext *hcl.EvalContext
	// KeepSource stores the source record object in each create's Extra,
	// for on_create rules.
	KeepSource bool
}

// Result is one sync's share of a plan.
type Result struct {
	Changes   []plan.Change
	Unchanged int
}

type sourceItem struct {
	rec     providers.Record
	obj     cty.Value
	desired map[string]cty.Value
	keys    [][]string // per match key, the record's values
	problem string
	link    *state.Link
}

type targetItem struct {
	rec providers.Record
	obj cty.Value
}

// Plan reads both sides of one sync and diffs them. An error means a
// listing failed; the caller must treat the whole plan as incomplete.
func Plan(ctx context.Context, in Input) (Result, error) {
	ss, ts := in.Source.Schema(), in.Target.Schema()
	var targets []*targetItem
	byID := map[string]*targetItem{}
	err := in.Target.List(ctx, providers.ListOptions{}, func(r providers.Record) error {
		t := &targetItem{rec: r, obj: recordObject(ts, r)}
		targets = append(targets, t)
		byID[r.ID] = t
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("list %s: %w", in.Sync.Target, err)
	}
	var sources []*sourceItem
	err = in.Source.List(ctx, providers.ListOptions{}, func(r providers.Record) error {
		sources = append(sources, &sourceItem{rec: r, obj: recordObject(ss, r)})
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("list %s: %w", in.Sync.Source, err)
	}

	d := &differ{in: in, ss: ss, ts: ts, byID: byID}
	return d.run(sources, targets), nil
}

type differ struct {
	in     Input
	ss, ts providers.Schema
	byID   map[string]*targetItem
}

func (d *differ) run(sources []*sourceItem, targets []*targetItem) Result {
	var res Result
	sy := d.in.Sync
	linkBySource := map[string]*state.Link{}
	linkedTarget := map[string]string{}
	for i := range d.in.Links {
		l := &d.in.Links[i]
		linkBySource[l.SourceID] = l
		linkedTarget[l.TargetID] = l.SourceID
	}

	// Index targets by every value of every match key.
	index := make([]map[string][]*targetItem, len(sy.Match))
	for ki, k := range sy.Match {
		index[ki] = map[string][]*targetItem{}
		for _, t := range targets {
			// A target whose key cannot be computed (an invalid email on
			// the other side) simply cannot be matched by that key.
			vals, _ := d.keyValues(k.Target, "target", t.obj)
			for _, v := range vals {
				index[ki][v] = append(index[ki][v], t)
			}
		}
	}

	for _, s := range sources {
		s.link = linkBySource[s.rec.ID]
		d.evaluate(s)
	}

	// Primary identities shared by several unlinked sources are ambiguous:
	// creating one record per source would duplicate a person.
	primary := map[string][]*sourceItem{}
	for _, s := range sources {
		if s.link != nil || s.problem != "" {
			continue
		}
		if ki, v := primaryKey(s); ki >= 0 {
			k := fmt.Sprintf("%d\x00%s", ki, v)
			primary[k] = append(primary[k], s)
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
		switch {
		case s.link != nil:
			t := d.byID[s.link.TargetID]
			if t == nil {
				res.Changes = append(res.Changes, d.orphan(s))
				continue
			}
			// The link decides identity; key problems do not matter here.
			if ch, ok := d.update(s, t, plan.Update, "linked"); ok {
				res.Changes = append(res.Changes, ch)
			} else {
				res.Unchanged++
			}
			continue
		case s.problem != "":
			res.Changes = append(res.Changes, d.skip(s, s.problem))
			continue
		}
		ki, v := primaryKey(s)
		if ki < 0 {
			res.Changes = append(res.Changes, d.skip(s, "no identifier: the record has no value for any match key ("+keyNames(sy)+")"))
			continue
		}
		if group := primary[fmt.Sprintf("%d\x00%s", ki, v)]; len(group) > 1 {
			res.Changes = append(res.Changes, d.skip(s, fmt.Sprintf("ambiguous identity: %s %q is shared by %d source records (%s); resolve the duplicate, bellsync will not guess",
				sy.Match[ki].Name, v, len(group), sourceIDs(group))))
			continue
		}
		t, reason, problem := d.match(s, index, linkedTarget)
		switch {
		case problem != "":
			res.Changes = append(res.Changes, d.skip(s, problem))
		case t != nil:
			claims = append(claims, claim{s, t, reason})
			claimed[t.rec.ID] = append(claimed[t.rec.ID], s)
		default:
			res.Changes = append(res.Changes, d.create(s))
		}
	}
	for _, c := range claims {
		if others := claimed[c.t.rec.ID]; len(others) > 1 {
			res.Changes = append(res.Changes, d.skip(c.s, fmt.Sprintf("ambiguous identity: %d source records (%s) match the same %s record %q; bellsync will not guess",
				len(others), sourceIDs(others), sy.Target, c.t.rec.ID)))
			continue
		}
		ch, _ := d.update(c.s, c.t, plan.Link, c.reason)
		res.Changes = append(res.Changes, ch)
	}
	return res
}

// evaluate computes a source's match keys. Its mapped fields are computed
// later, by desire, once the counterpart (if any) is known.
func (d *differ) evaluate(s *sourceItem) {
	sy := d.in.Sync
	s.keys = make([][]string, len(sy.Match))
	p := problems{}
	for ki, k := range sy.Match {
		vals, err := d.keyValues(k.Source, "source", s.obj)
		if err != nil {
			p.add(err.Error(), fmt.Sprintf("match key %q at %s", k.Name, origin(k.Source.Range())))
			continue
		}
		s.keys[ki] = vals
	}
	s.problem = p.String()
}

// desire evaluates the sync's map for a source. Expressions see `source`
// and `target`: the counterpart's current fields, or null when the record
// is about to be created.
func (d *differ) desire(s *sourceItem, t *targetItem) string {
	sy := d.in.Sync
	evalCtx := d.in.EvalContext.NewChild()
	tobj := cty.NullVal(d.ts.ObjectType())
	if t != nil {
		tobj = t.obj
	}
	evalCtx.Variables = map[string]cty.Value{"source": s.obj, "target": tobj}
	s.desired = make(map[string]cty.Value, len(sy.Map))
	p := problems{}
	for _, m := range sy.Map {
		f, _ := d.ts.Field(m.Field)
		v, diags := m.Expr.Value(evalCtx)
		if diags.HasErrors() {
			p.add(diagText(diags), fmt.Sprintf("%s at %s", m.Field, origin(m.Range)))
			continue
		}
		cv, err := conform(f, v)
		if err != nil {
			p.add("value does not fit the field: "+err.Error(), fmt.Sprintf("%s at %s", m.Field, origin(m.Range)))
			continue
		}
		s.desired[m.Field] = cv
	}
	return p.String()
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

// match finds the one target a source identifies, trying keys in order.
func (d *differ) match(s *sourceItem, index []map[string][]*targetItem, linkedTarget map[string]string) (*targetItem, string, string) {
	sy := d.in.Sync
	primary, _ := primaryKey(s)
	for ki, vals := range s.keys {
		found := map[string]*targetItem{}
		var via string
		for _, v := range vals {
			for _, t := range index[ki][v] {
				if found[t.rec.ID] == nil {
					found[t.rec.ID] = t
					via = v
				}
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			for _, t := range found {
				if other, ok := linkedTarget[t.rec.ID]; ok && other != s.rec.ID {
					if ki != primary {
						// A fallback key (a shared family phone) pointing at
						// someone else's record says nothing about this one.
						continue
					}
					return nil, "", fmt.Sprintf("ambiguous identity: %s %q matches %s record %q, which is already linked to source record %q; bellsync will not guess",
						sy.Match[ki].Name, via, sy.Target, t.rec.ID, other)
				}
				return t, fmt.Sprintf("matched by %s %q", sy.Match[ki].Name, via), ""
			}
		default:
			ids := make([]string, 0, len(found))
			for id := range found {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			return nil, "", fmt.Sprintf("ambiguous identity: %s %v matches %d %s records (%s); bellsync will not guess",
				sy.Match[ki].Name, vals, len(found), sy.Target, strings.Join(ids, ", "))
		}
	}
	return nil, "", ""
}

// update diffs a source against its target. It reports false when there
// is nothing to write (for an existing link); a Link change is returned
// even without field changes, since adopting the record is itself a write.
func (d *differ) update(s *sourceItem, t *targetItem, action plan.Action, reason string) (plan.Change, bool) {
	sy := d.in.Sync
	if problem := d.desire(s, t); problem != "" {
		return d.skip(s, problem), true
	}
	var base *Base
	if s.link != nil {
		if b, err := DecodeBase(s.link.TargetBase); err == nil {
			base = &b
		}
	}
	ignore := map[string]bool{}
	for _, f := range sy.IgnoreChanges {
		ignore[f] = true
	}
	ch := d.change(s, action)
	ch.Target.ID = t.rec.ID
	ch.Target.ParentID = t.rec.ParentID
	ch.Snapshot = digest(d.ts, t.rec)
	ch.Reason = reason
	for _, m := range sy.Map {
		if ignore[m.Field] && action != plan.Link {
			continue
		}
		f, _ := d.ts.Field(m.Field)
		want, cur := s.desired[m.Field], t.rec.Fields[m.Field]
		if equal(f, want, cur) {
			continue
		}
		why := "differs from the source"
		if base != nil {
			wrote, seen := base.Wrote[m.Field], base.Seen[m.Field]
			wroteSame, seenSame := equal(f, want, wrote), equal(f, cur, seen)
			if wroteSame && seenSame {
				// The target stores what we wrote in its own form (a
				// reformatted phone, say): an echo, not a change.
				continue
			}
			if !wroteSame {
				why = "source changed"
			} else {
				why = "target drifted; the source is authoritative"
			}
		}
		if ignore[m.Field] {
			continue
		}
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: m.Field, Old: nonNil(cur, f), New: want,
			Origin: origin(m.Range), Reason: why, Sensitive: f.Sensitive})
	}
	if action == plan.Update && len(ch.Fields) == 0 {
		return plan.Change{}, false
	}
	return ch, true
}

func (d *differ) create(s *sourceItem) plan.Change {
	if problem := d.desire(s, nil); problem != "" {
		return d.skip(s, problem)
	}
	ch := d.change(s, plan.Create)
	ch.Reason = "no linked or matching " + d.in.Sync.Target.String() + " record"
	for _, m := range d.in.Sync.Map {
		v := s.desired[m.Field]
		f, _ := d.ts.Field(m.Field)
		if equal(f, v, cty.NullVal(cty.DynamicPseudoType)) {
			continue
		}
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: m.Field, Old: cty.NullVal(v.Type()), New: v,
			Origin: origin(m.Range), Reason: "new record", Sensitive: f.Sensitive})
	}
	if d.in.KeepSource {
		ch.Extra = map[string]cty.Value{"source": s.obj}
	}
	return ch
}

func (d *differ) change(s *sourceItem, a plan.Action) plan.Change {
	sy := d.in.Sync
	return plan.Change{
		Sync: sy.Name, Action: a, Side: plan.SideTarget,
		Source:         plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind, ID: s.rec.ID, ParentID: s.rec.ParentID},
		Target:         plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind},
		Label:          label(s),
		Origin:         origin(sy.DeclRange),
		Desired:        s.desired,
		SourceSnapshot: digest(d.ss, s.rec),
	}
}

func (d *differ) skip(s *sourceItem, problem string) plan.Change {
	ch := d.change(s, plan.Skip)
	ch.Problem = problem
	ch.Desired = nil
	return ch
}

func (d *differ) orphan(s *sourceItem) plan.Change {
	ch := d.change(s, plan.Orphan)
	ch.Target.ID = s.link.TargetID
	ch.Problem = fmt.Sprintf("linked %s record %q no longer exists; bellsync leaves it alone (run `bellsync state audit` to review)", d.in.Sync.Target, s.link.TargetID)
	ch.Desired = nil
	return ch
}

func primaryKey(s *sourceItem) (int, string) {
	for ki, vals := range s.keys {
		if len(vals) > 0 {
			return ki, vals[0]
		}
	}
	return -1, ""
}

func label(s *sourceItem) string {
	for _, vals := range s.keys {
		if len(vals) > 0 {
			return vals[0]
		}
	}
	return ""
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

func nonNil(v cty.Value, f providers.Field) cty.Value {
	if v == cty.NilVal {
		return cty.NullVal(f.Type)
	}
	return v
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
