package diff

import (
	"fmt"
	"time"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// desire evaluates the sync's maps for a pair of records. The map sees
// `source` and `target` (null when the target is about to be created); the
// reverse map of a two-way sync sees the same two.
func (d *differ) desire(sobj, tobj cty.Value) (fwd, rev map[string]cty.Value, problem string) {
	return d.desireSides(sobj, tobj, true, d.twoWay)
}

// desireSides evaluates only the maps asked for: a record about to be
// created has no counterpart for the other map to read.
func (d *differ) desireSides(sobj, tobj cty.Value, forward, backward bool) (fwd, rev map[string]cty.Value, problem string) {
	sy := d.in.Sync
	evalCtx := d.in.EvalContext.NewChild()
	evalCtx.Variables = map[string]cty.Value{"source": sobj, "target": tobj}
	p := problems{}
	eval := func(ms []*config.Mapping, s providers.Schema) map[string]cty.Value {
		out := make(map[string]cty.Value, len(ms))
		for _, m := range ms {
			f, _ := s.Field(m.Field)
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
			out[m.Field] = cv
		}
		return out
	}
	if forward {
		fwd = eval(sy.Map, d.ts)
	}
	if backward {
		rev = eval(sy.ReverseMap, d.ss)
	}
	return fwd, rev, p.String()
}

func (d *differ) nullTarget() cty.Value { return cty.NullVal(d.ts.ObjectType()) }
func (d *differ) nullSource() cty.Value { return cty.NullVal(d.ss.ObjectType()) }

// pair diffs a source against its counterpart. It reports false when
// there is nothing to write for an existing link; a Link change is returned
// even without field changes, since recording the link is itself a write.
func (d *differ) pair(s *sourceItem, t *targetItem, action plan.Action, reason string) (plan.Change, bool) {
	sy := d.in.Sync
	fwd, rev, problem := d.desire(s.obj, t.obj)
	if problem != "" {
		return d.skipSource(s, problem), true
	}
	var baseT, baseS *Base
	if s.link != nil {
		if b, err := DecodeBase(s.link.TargetBase); err == nil {
			baseT = &b
		}
		if b, err := DecodeBase(s.link.SourceBase); err == nil {
			baseS = &b
		}
	}
	ignore := map[string]bool{}
	for _, f := range sy.IgnoreChanges {
		ignore[f] = true
	}
	srcNewer := newer(s.rec.UpdatedAt, t.rec.UpdatedAt)
	ch := d.change(s, action)
	ch.Target.ID, ch.Target.ParentID = t.rec.ID, t.rec.ParentID
	ch.Snapshot = digest(d.ts, t.rec)
	ch.Reason = reason
	ch.Desired = fwd
	ch.Extra = map[string]cty.Value{"source": s.obj, "target": t.obj}
	for _, m := range sy.Map {
		if ignore[m.Field] || t.rec.ID == "" {
			// A record known only from an event (no id) cannot be written.
			continue
		}
		f, _ := d.ts.Field(m.Field)
		want, cur := fwd[m.Field], t.rec.Fields[m.Field]
		fc, ok := fieldChange(m, f, want, cur, baseT, d.mergeable(m.Field, f, want, cur, baseT), func() (bool, string) {
			return d.forward(m.Field, f, want, cur, baseT, srcNewer)
		})
		if ok {
			ch.Fields = append(ch.Fields, fc)
		}
	}
	for _, m := range sy.ReverseMap {
		f, _ := d.ss.Field(m.Field)
		want, cur := rev[m.Field], s.rec.Fields[m.Field]
		fc, ok := fieldChange(m, f, want, cur, baseS, d.mergeableReverse(m.Field, f, want, cur, baseS), func() (bool, string) {
			return d.reverse(m.Field, f, want, cur, baseS, srcNewer)
		})
		if ok {
			ch.Reverse = append(ch.Reverse, fc)
		}
	}
	if action == plan.Update && len(ch.Fields) == 0 && len(ch.Reverse) == 0 {
		if !d.agreedSinceBase(fwd, rev, s.rec, t.rec, baseS, baseT, ignore) {
			return plan.Change{}, false
		}
		// Nothing to write, but the link must be re-based: otherwise the
		// next edit on either side looks like a conflict with an edit
		// the sides already agree on, and the conflict rule may undo it.
		ch.Reason = "both sides were changed to the same value; only the link's snapshot is updated"
	}
	return ch, true
}

// agreedSinceBase reports whether a shared field of a two-way sync holds
// the same value on both sides that differs from the link's base: both
// sides were edited alike since the last run.
func (d *differ) agreedSinceBase(fwd, rev map[string]cty.Value, src, tgt providers.Record, baseS, baseT *Base, ignore map[string]bool) bool {
	if !d.twoWay {
		return false
	}
	stale := func(f providers.Field, want, cur cty.Value, base *Base, name string) bool {
		return base != nil && equal(f, want, cur) && (!equal(f, want, base.Wrote[name]) || !equal(f, cur, base.Seen[name]))
	}
	for _, m := range d.in.Sync.Map {
		f, _ := d.ts.Field(m.Field)
		if d.shared[m.Field] && !ignore[m.Field] && stale(f, fwd[m.Field], tgt.Fields[m.Field], baseT, m.Field) {
			return true
		}
	}
	for _, m := range d.in.Sync.ReverseMap {
		shared := false
		for _, tf := range d.readsOf[m.Field] {
			shared = shared || d.shared[tf]
		}
		f, _ := d.ss.Field(m.Field)
		if shared && stale(f, rev[m.Field], src.Fields[m.Field], baseS, m.Field) {
			return true
		}
	}
	return false
}

// fieldChange is the write of one mapped field from want, the value its
// map gives, to cur, the record's value: none when they agree; the merge
// of the two when merge is set; otherwise what decide says.
func fieldChange(m *config.Mapping, f providers.Field, want, cur cty.Value, base *Base, merge bool, decide func() (bool, string)) (plan.FieldChange, bool) {
	if equal(f, want, cur) {
		return plan.FieldChange{}, false
	}
	write, why := want, "both sides changed; additions and removals from each are merged"
	if merge {
		if write = MergeSet(f, want, cur, seenOf(base, m.Field)); equal(f, write, cur) {
			return plan.FieldChange{}, false
		}
	} else {
		var ok bool
		if ok, why = decide(); !ok {
			return plan.FieldChange{}, false
		}
	}
	return plan.FieldChange{Field: m.Field, Old: nonNil(cur, f), New: write, Origin: origin(m.Range), Reason: why, Sensitive: f.Sensitive}, true
}

// mergeable reports whether a mapped set field (tags) was changed on both
// sides of a two-way link since its base, with no owner: then neither
// side's value wins whole, because taking one would drop what was added
// on the other; the two sets of additions and removals are merged.
//
// A new link (no base yet) merges too: each side's set is all additions,
// so the first link keeps both sides' tags rather than one wiping the
// other's.
func (d *differ) mergeable(name string, f providers.Field, want, cur cty.Value, base *Base) bool {
	if !f.Set || !d.twoWay || !d.shared[name] || d.owner(name) != "" {
		return false
	}
	return changedOnBoth(f, name, want, cur, base)
}

// changedOnBoth reports whether both sides moved a field away from the
// link's base; a new link (no base) counts as both.
func changedOnBoth(f providers.Field, name string, want, cur cty.Value, base *Base) bool {
	return base == nil || (!equal(f, want, base.Wrote[name]) && !equal(f, cur, base.Seen[name]))
}

// seenOf is the base's seen value of a field, or null without a base.
func seenOf(base *Base, name string) cty.Value {
	if base == nil {
		return cty.NilVal
	}
	return base.Seen[name]
}

// mergeableReverse is mergeable for a reverse-mapped field.
func (d *differ) mergeableReverse(name string, f providers.Field, want, cur cty.Value, base *Base) bool {
	if !f.Set || len(d.readsOf[name]) == 0 {
		return false
	}
	for _, tf := range d.readsOf[name] {
		if !d.shared[tf] || d.owner(tf) != "" {
			return false
		}
	}
	return changedOnBoth(f, name, want, cur, base)
}

// MergeSet is the three-way merge of a set field: the value the other
// side now gives (want), plus what was added on this side since the link's
// base (cur minus seen), minus what was removed on this side (seen minus
// cur). Elements keep want's order, then cur's. Strings are compared
// without regard to case, whatever this side does: the two sides of a link
// merge separately and must agree, and one of them may fold case (GHL
// lower-cases tags), so "VIP" here and "vip" there are one tag.
func MergeSet(f providers.Field, want, cur, seen cty.Value) cty.Value {
	elems := func(v cty.Value) ([]cty.Value, map[string]bool) {
		var out []cty.Value
		keys := map[string]bool{}
		if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
			return nil, keys
		}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			k := canon(providers.Field{Fold: true}, e)
			if k == "null" || keys[k] {
				continue
			}
			keys[k] = true
			out = append(out, e)
		}
		return out, keys
	}
	wantE, _ := elems(want)
	curE, curK := elems(cur)
	_, seenK := elems(seen)
	var merged []cty.Value
	have := map[string]bool{}
	add := func(e cty.Value) {
		k := canon(providers.Field{Fold: true}, e)
		if !have[k] {
			have[k] = true
			merged = append(merged, e)
		}
	}
	for _, e := range wantE {
		k := canon(providers.Field{Fold: true}, e)
		if seenK[k] && !curK[k] {
			continue // removed on this side
		}
		add(e)
	}
	for _, e := range curE {
		if !seenK[canon(providers.Field{Fold: true}, e)] {
			add(e) // added on this side
		}
	}
	v := cty.TupleVal(merged)
	if len(merged) == 0 {
		v = cty.EmptyTupleVal
	}
	if cv, err := conform(f, v); err == nil {
		return cv
	}
	return v
}

// newer reports whether the source record changed after the target; an
// unknown time (GHL tasks and notes have none) counts as older.
func newer(src, tgt time.Time) bool {
	switch {
	case src.IsZero():
		return false
	case tgt.IsZero():
		return true
	}
	return src.After(tgt)
}

func (d *differ) owner(targetField string) string { return d.in.Sync.Ownership[targetField] }

func (d *differ) ownerOrigin(targetField string) string {
	return origin(d.in.Sync.OwnershipRanges[targetField])
}

// winner applies the sync's conflict rule.
func (d *differ) winner(srcNewer bool) (source bool, why string) {
	rule := d.in.Sync.Conflict
	at := origin(d.in.Sync.ConflictRange)
	switch rule {
	case "target_wins":
		return false, fmt.Sprintf("conflict resolved by conflict = target_wins (%s)", at)
	case "newest_wins":
		if srcNewer {
			return true, fmt.Sprintf("conflict resolved by conflict = newest_wins: the source changed last (%s)", at)
		}
		return false, fmt.Sprintf("conflict resolved by conflict = newest_wins: the target changed last (%s)", at)
	}
	return true, fmt.Sprintf("conflict resolved by conflict = source_wins (%s)", at)
}

// forward decides whether a mapped field is written to the target.
func (d *differ) forward(name string, f providers.Field, want, cur cty.Value, base *Base, srcNewer bool) (bool, string) {
	owner := d.owner(name)
	if owner == "target" {
		return false, ""
	}
	if !d.twoWay || !d.shared[name] || owner == "source" {
		if base == nil {
			return true, "differs from the source"
		}
		wroteSame, seenSame := equal(f, want, base.Wrote[name]), equal(f, cur, base.Seen[name])
		switch {
		case wroteSame && seenSame:
			// The target stores what we wrote in its own form (a
			// reformatted phone, say): an echo, not a change.
			return false, ""
		case !wroteSame:
			return true, "source changed"
		case owner == "source":
			return true, fmt.Sprintf("target drifted; the field is owned by the source (%s)", d.ownerOrigin(name))
		}
		return true, "target drifted; the source is authoritative"
	}
	if base == nil {
		src, why := d.winner(srcNewer)
		return src, "new link, values differ; " + why
	}
	srcChanged, tgtChanged := !equal(f, want, base.Wrote[name]), !equal(f, cur, base.Seen[name])
	switch {
	case srcChanged && !tgtChanged:
		return true, "source changed"
	case srcChanged && tgtChanged:
		src, why := d.winner(srcNewer)
		return src, "both sides changed; " + why
	}
	return false, ""
}

// reverse decides whether a reverse-mapped field is written to the source.
func (d *differ) reverse(name string, f providers.Field, want, cur cty.Value, base *Base, srcNewer bool) (bool, string) {
	shared, owner := false, ""
	for _, tf := range d.readsOf[name] {
		if d.shared[tf] {
			shared = true
		}
		if o := d.owner(tf); o != "" {
			owner = o
		}
	}
	if owner == "source" {
		return false, ""
	}
	if !shared || owner == "target" {
		if base == nil {
			return true, "differs from the target"
		}
		wroteSame, seenSame := equal(f, want, base.Wrote[name]), equal(f, cur, base.Seen[name])
		switch {
		case wroteSame && seenSame:
			return false, ""
		case !wroteSame:
			return true, "target changed"
		}
		return true, "source drifted; the field is owned by the target"
	}
	if base == nil {
		src, why := d.winner(srcNewer)
		return !src, "new link, values differ; " + why
	}
	tgtChanged, srcChanged := !equal(f, want, base.Wrote[name]), !equal(f, cur, base.Seen[name])
	switch {
	case tgtChanged && !srcChanged:
		return true, "target changed"
	case tgtChanged && srcChanged:
		src, why := d.winner(srcNewer)
		return !src, "both sides changed; " + why
	}
	return false, ""
}

func (d *differ) create(s *sourceItem) plan.Change {
	if d.in.Parents != nil && s.scope == "" && s.await == nil {
		return d.skipSource(s, fmt.Sprintf("its parent %s record %q is not linked, so there is nowhere to put it (sync %q did not sync that parent)",
			d.ss.Parent, s.rec.ParentID, d.in.Sync.Parent))
	}
	fwd, _, problem := d.desireSides(s.obj, d.nullTarget(), true, false)
	if problem != "" {
		return d.skipSource(s, problem)
	}
	ch := d.change(s, plan.Create)
	ch.Target.ParentID = s.scope
	ch.Await = s.await
	ch.Reason = "no linked or matching " + d.in.Sync.Target.String() + " record"
	if s.await != nil {
		ch.Reason += "; its parent is created first"
	}
	ch.Desired = fwd
	ch.Extra = map[string]cty.Value{"source": s.obj}
	for _, m := range d.in.Sync.Map {
		v := fwd[m.Field]
		f, _ := d.ts.Field(m.Field)
		if equal(f, v, cty.NullVal(cty.DynamicPseudoType)) {
			continue
		}
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: m.Field, Old: cty.NullVal(v.Type()), New: v,
			Origin: origin(m.Range), Reason: "new record", Sensitive: f.Sensitive})
	}
	ch.FollowUps = d.followUps(s.obj)
	return ch
}

// createSource is a two-way backfill: a target record with no counterpart
// becomes a new source record.
func (d *differ) createSource(t *targetItem) plan.Change {
	sy := d.in.Sync
	_, rev, problem := d.desireSides(d.nullSource(), t.obj, false, true)
	if problem != "" {
		return d.skipTarget(t, problem)
	}
	ch := plan.Change{Sync: sy.Name, Action: plan.Create, Side: plan.SideSource,
		Source:   plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind, ParentID: t.scope},
		Target:   plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind, ID: t.rec.ID, ParentID: t.rec.ParentID},
		Label:    labelOf(t.keys),
		Origin:   origin(sy.DeclRange),
		Reason:   "no linked or matching " + sy.Source.String() + " record (two-way backfill)",
		Await:    t.await,
		Snapshot: digest(d.ts, t.rec),
		Desired:  rev,
		Extra:    map[string]cty.Value{"target": t.obj},
	}
	for _, m := range sy.ReverseMap {
		v := rev[m.Field]
		f, _ := d.ss.Field(m.Field)
		if equal(f, v, cty.NullVal(cty.DynamicPseudoType)) {
			continue
		}
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: m.Field, Old: cty.NullVal(v.Type()), New: v,
			Origin: origin(m.Range), Reason: "new record", Sensitive: f.Sensitive})
	}
	return ch
}

// followUps plans the on_create rules for a record about to be created.
// The new record's own fields are unknown until it exists.
func (d *differ) followUps(sobj cty.Value) []plan.FollowUp {
	var out []plan.FollowUp
	for _, r := range d.in.Rules {
		fields, _ := evalRule(d.in.EvalContext, r, sobj, cty.UnknownVal(d.ts.ObjectType()))
		fu := plan.FollowUp{Rule: r.ID, Provider: r.Config.Provider, Kind: r.Config.Kind, Origin: origin(r.Config.DeclRange)}
		for _, a := range r.Config.Attrs {
			v, ok := fields[a.Field]
			if !ok {
				v = cty.DynamicVal
			}
			fu.Fields = append(fu.Fields, plan.FieldChange{Field: a.Field, Old: cty.NullVal(cty.DynamicPseudoType), New: v, Origin: origin(a.Range)})
		}
		out = append(out, fu)
	}
	return out
}

func (d *differ) change(s *sourceItem, a plan.Action) plan.Change {
	sy := d.in.Sync
	return plan.Change{
		Sync: sy.Name, Action: a, Side: plan.SideTarget,
		Source:         plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind, ID: s.rec.ID, ParentID: s.rec.ParentID},
		Target:         plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind},
		Label:          labelOf(s.keys),
		Origin:         origin(sy.DeclRange),
		SourceSnapshot: digest(d.ss, s.rec),
	}
}

func (d *differ) skipSource(s *sourceItem, problem string) plan.Change {
	ch := d.change(s, plan.Skip)
	ch.Problem = problem
	return ch
}

func (d *differ) skipTarget(t *targetItem, problem string) plan.Change {
	sy := d.in.Sync
	return plan.Change{Sync: sy.Name, Action: plan.Skip, Side: plan.SideSource,
		Source:  plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind},
		Target:  plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind, ID: t.rec.ID, ParentID: t.rec.ParentID},
		Label:   labelOf(t.keys),
		Problem: problem}
}

func (d *differ) orphan(s *sourceItem) plan.Change {
	ch := d.change(s, plan.Orphan)
	ch.Target.ID = s.link.TargetID
	ch.Problem = fmt.Sprintf("linked %s record %q no longer exists; bellsync leaves this one alone and does not sync its edits (review with `bellsync state audit`; `bellsync state forget -sync %s -orphans` lets it be synced afresh)",
		d.in.Sync.Target, s.link.TargetID, d.in.Sync.Name)
	return ch
}

// orphanTarget is orphan for a target whose linked source is gone and
// that on_delete = "retain" keeps.
func (d *differ) orphanTarget(l *state.Link, t *targetItem) plan.Change {
	sy := d.in.Sync
	return plan.Change{Sync: sy.Name, Action: plan.Orphan, Side: plan.SideTarget,
		Source: plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind, ID: l.SourceID, ParentID: l.SourceParent},
		Target: plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind, ID: l.TargetID, ParentID: l.TargetParent},
		Label:  labelOf(t.keys), Origin: origin(sy.OnDeleteRange),
		Problem: fmt.Sprintf("linked %s record %q no longer exists; on_delete = %q keeps this one and bellsync does not sync its edits (review with `bellsync state audit`; `bellsync state forget -sync %s -orphans` lets it be synced afresh)",
			sy.Source, l.SourceID, sy.OnDelete, sy.Name),
	}
}

func labelOf(keys [][]string) string {
	for _, vals := range keys {
		if len(vals) > 0 {
			if r := []rune(vals[0]); len(r) > 60 {
				return string(r[:57]) + "..."
			}
			return vals[0]
		}
	}
	return ""
}

func nonNil(v cty.Value, f providers.Field) cty.Value {
	if v == cty.NilVal {
		return cty.NullVal(f.Type)
	}
	return v
}
