package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/providers"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// bind resolves a sync's resources and checks everything that needs the
// provider schemas: field names in expressions, writable fields,
// capabilities for the direction and the delete policy, two-way ownership,
// parent syncs and on_create rules. Each problem is a diagnostic at the
// line that causes it.
func (ws *Workspace) bind(sy *config.Sync, bound map[string]*binding) (*binding, hcl.Diagnostics) {
	b, diags := ws.bindSync(sy, bound)
	// The checks evaluate expressions that may call env() and file().
	return b, config.Redact(diags)
}

func (ws *Workspace) bindSync(sy *config.Sync, bound map[string]*binding) (*binding, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	src, d := ws.resource(sy.Source)
	diags = append(diags, d...)
	tgt, d := ws.resource(sy.Target)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	ss, ts := src.Schema(), tgt.Schema()
	errAt := func(rng hcl.Range, summary, detail string, args ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
			Detail: fmt.Sprintf(detail, args...), Subject: rng.Ptr()})
	}
	need := func(ok bool, ref config.Ref, what string) {
		if !ok {
			errAt(ref.Range, "Provider lacks a capability this sync needs", "%s cannot %s, which sync %q needs.", ref, what, sy.Name)
		}
	}
	twoWay := sy.Direction == "two_way"
	need(ss.Caps.List, sy.Source, "list records")
	need(ts.Caps.List, sy.Target, "list records")
	need(ts.Caps.Create, sy.Target, "create records")
	need(ts.Caps.Update, sy.Target, "update records")
	if twoWay {
		need(ss.Caps.Create, sy.Source, "create records")
		need(ss.Caps.Update, sy.Source, "update records")
	}
	check := newValueCheck(ss, ts, ws.Config.BaseDir)
	// refsOK checks an expression's field references, and says whether it
	// is worth evaluating: one with a bad reference would only report it
	// again.
	refsOK := func(expr hcl.Expression) bool {
		d := append(checkRefs(expr, "source", ss, sy.Source), checkRefs(expr, "target", ts, sy.Target)...)
		diags = append(diags, d...)
		return len(d) == 0
	}
	checkMap := func(ms []*config.Mapping, written providers.Schema, ref config.Ref) {
		for _, m := range ms {
			f, ok := written.Field(m.Field)
			switch {
			case !ok:
				errAt(m.Range, "Unknown field", "%s has no field %q.%s Its writable fields are: %s.", ref, m.Field,
					config.DidYouMean(m.Field, names(written, true)), fieldNames(written, true))
			case f.ReadOnly:
				errAt(m.Range, "Read-only field", "%s field %q is set by the API and cannot be written; remove it from the map.", ref, m.Field)
			}
			if refsOK(m.Expr) && ok {
				diags = append(diags, check.field(m.Expr, f, ref)...)
			}
		}
	}
	checkMap(sy.Map, ts, sy.Target)
	checkMap(sy.ReverseMap, ss, sy.Source)
	for _, k := range sy.Match {
		for _, expr := range []hcl.Expression{k.Source, k.Target} {
			if expr != nil && refsOK(expr) {
				diags = append(diags, check.key(expr, k.Name)...)
			}
		}
	}
	if len(sy.Match) == 0 {
		errAt(sy.DeclRange, "Missing match block",
			"Sync %q needs a match block with at least one key, so bellsync can find a record's counterpart instead of creating a duplicate.", sy.Name)
	}
	diags = append(diags, checkOwnership(sy)...)
	diags = append(diags, checkIgnoreChanges(sy, ts)...)
	diags = append(diags, checkDeletes(sy, ss, ts)...)

	b := &binding{sync: sy, source: src, target: tgt}
	if sy.Parent != "" {
		parent, ok := bound[sy.Parent]
		switch {
		case !ok:
			errAt(sy.ParentRange, "Parent sync not usable", "Sync %q names parent sync %q, which has errors of its own; fix those first.", sy.Name, sy.Parent)
		case ss.Parent == "" || ts.Parent == "":
			errAt(sy.ParentRange, "Not a child kind", "%s or %s has no parent kind, so sync %q cannot follow a parent sync; remove parent.", sy.Source, sy.Target, sy.Name)
		default:
			ps, pt := parent.sync.Source, parent.sync.Target
			straight := sy.Source.Provider == ps.Provider && sy.Target.Provider == pt.Provider
			flipped := sy.Source.Provider == pt.Provider && sy.Target.Provider == ps.Provider
			if !straight && !flipped {
				errAt(sy.ParentRange, "Parent sync does not pair these parents",
					"Sync %q moves records between %s and %s, but its parent sync %q links %s and %s.",
					sy.Name, sy.Source.Provider, sy.Target.Provider, sy.Parent, ps.Provider, pt.Provider)
			}
			b.flipped = flipped && !straight
		}
	} else if ss.Parent != "" || ts.Parent != "" {
		errAt(sy.DeclRange, "Missing parent sync",
			"%s and %s live under a parent record; add parent = sync.NAME naming the sync that links their parents.", sy.Source, sy.Target)
	}

	var rules []diff.Rule
	for i, r := range sy.OnCreate {
		p, ok := ws.providers[r.Provider]
		if !ok || r.Provider != sy.Target.Provider {
			errAt(r.DeclRange, "Invalid on_create rule", "An on_create rule creates records on the side a record was just created on, %s; %q is not it.", sy.Target.Provider, r.Provider)
			continue
		}
		res, err := p.Resource(r.Kind)
		if err != nil {
			errAt(r.DeclRange, "Invalid on_create rule", "%s has no resource kind %q.", r.Provider, r.Kind)
			continue
		}
		rs := res.Schema()
		if rs.Parent != ts.Kind {
			errAt(r.DeclRange, "Invalid on_create rule", "%s.%s records do not live under %s records, so they cannot follow one's creation.", r.Provider, r.Kind, sy.Target)
			continue
		}
		for _, a := range r.Attrs {
			f, ok := rs.Field(a.Field)
			if !ok || f.ReadOnly {
				errAt(a.Range, "Unknown field", "%s.%s has no writable field %q.%s Its writable fields are: %s.", r.Provider, r.Kind, a.Field,
					config.DidYouMean(a.Field, names(rs, true)), fieldNames(rs, true))
			}
			if refsOK(a.Expr) && ok && !f.ReadOnly {
				diags = append(diags, check.field(a.Expr, f, config.Ref{Provider: r.Provider, Kind: r.Kind})...)
			}
		}
		rules = append(rules, diff.Rule{ID: fmt.Sprintf("%s/on_create/%d", sy.Name, i), Config: r, Resource: res})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	// The diff's listings are the slow part of a plan; they say how far
	// they have got (the other uses of the resources need no wrapper).
	b.input = diff.Input{Sync: sy, Rules: rules,
		Source:      newListLogged(src, ws.log, sy.Name, sy.Source.String()),
		Target:      newListLogged(tgt, ws.log, sy.Name, sy.Target.String()),
		EvalContext: config.EvalContext(nil, ws.Config.BaseDir)}
	return b, diags
}

// checkOwnership enforces that every field a two-way sync can write from
// both sides has a rule: an owner, or the sync's conflict rule.
func checkOwnership(sy *config.Sync) hcl.Diagnostics {
	var diags hcl.Diagnostics
	mapped := map[string]*config.Mapping{}
	var fields []string
	for _, m := range sy.Map {
		mapped[m.Field] = m
		fields = append(fields, m.Field)
	}
	// In source order, so the diagnostics are too.
	owned := make([]string, 0, len(sy.OwnershipRanges))
	for name := range sy.OwnershipRanges {
		owned = append(owned, name)
	}
	sort.Slice(owned, func(i, j int) bool {
		return sy.OwnershipRanges[owned[i]].Start.Byte < sy.OwnershipRanges[owned[j]].Start.Byte
	})
	for _, name := range owned {
		if _, ok := mapped[name]; !ok {
			rng := sy.OwnershipRanges[name]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Ownership of an unmapped field",
				Detail: fmt.Sprintf("%q is not set by the map block, so it cannot be owned; ownership entries are keyed by the map's field names.%s",
					name, suggestMapped(sy, name, fields)), Subject: rng.Ptr()})
		}
	}
	if sy.Direction != "two_way" || sy.Conflict != "" {
		return diags
	}
	var both []string
	for _, m := range sy.ReverseMap {
		for _, f := range diff.ReadFields(m.Expr, "target") {
			if _, ok := mapped[f]; ok && sy.Ownership[f] == "" {
				both = append(both, fmt.Sprintf("%s (reverse_map %s at line %d)", f, m.Field, m.Range.Start.Line))
			}
		}
	}
	if len(both) > 0 {
		sort.Strings(both)
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Field writable from both sides without a rule",
			Detail: fmt.Sprintf("Sync %q writes %s from both sides, and nothing says which side wins when both change it. "+
				"Add conflict = \"source_wins\", \"target_wins\" or \"newest_wins\", or an ownership { FIELD = \"source\" | \"target\" } entry.",
				sy.Name, strings.Join(both, ", ")),
			Subject: sy.DirectionRange.Ptr()})
	}
	return diags
}

// checkIgnoreChanges rejects ignore_changes names that are not fields the
// map block writes. The diff skips exactly those names, so a typo, or a
// source field name where the target's was meant, would leave the field the
// user meant to protect overwritten on the next plan.
func checkIgnoreChanges(sy *config.Sync, ts providers.Schema) hcl.Diagnostics {
	var diags hcl.Diagnostics
	mapped := map[string]bool{}
	var fields []string
	for _, m := range sy.Map {
		mapped[m.Field] = true
		fields = append(fields, m.Field)
	}
	for _, name := range sy.IgnoreChanges {
		if mapped[name] {
			continue
		}
		rng := sy.IgnoreChangesRanges[name]
		var detail string
		if _, ok := ts.Field(name); ok {
			detail = fmt.Sprintf("%s field %q is not set by the map block of sync %q, so there is nothing to ignore; "+
				"ignore_changes names fields the map block sets.", sy.Target, name, sy.Name)
		} else {
			detail = fmt.Sprintf("%s has no field %q; ignore_changes names %s fields the map block of sync %q sets.",
				sy.Target, name, sy.Target, sy.Name)
		}
		detail += suggestMapped(sy, name, fields)
		if len(fields) > 0 {
			detail += " Mapped fields: " + strings.Join(fields, ", ") + "."
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Ignored field not in the map",
			Detail: detail, Subject: rng.Ptr()})
	}
	return diags
}

// suggestMapped is the "Did you mean" for a name that should be one of the
// map's fields: the closest spelling, or else the one map entry that reads
// a source field of that name (timezone for time_zone = source.timezone),
// a common slip since the two sides name fields differently.
func suggestMapped(sy *config.Sync, name string, fields []string) string {
	if s := config.DidYouMean(name, fields); s != "" {
		return s
	}
	var from []string
	for _, m := range sy.Map {
		if slices.Contains(diff.ReadFields(m.Expr, "source"), name) {
			from = append(from, m.Field)
		}
	}
	if len(from) == 1 {
		return fmt.Sprintf(" Did you mean %q? It is the target field the map sets from %s.%s.", from[0], sy.Source, name)
	}
	return ""
}

// checkDeletes rejects a delete policy the written side cannot carry out,
// and hard deletes that cascade unless explicitly allowed.
func checkDeletes(sy *config.Sync, ss, ts providers.Schema) hcl.Diagnostics {
	var diags hcl.Diagnostics
	sides := []struct {
		s   providers.Schema
		ref config.Ref
	}{{ts, sy.Target}}
	if sy.Direction == "two_way" {
		sides = append(sides, struct {
			s   providers.Schema
			ref config.Ref
		}{ss, sy.Source})
	}
	for _, side := range sides {
		switch sy.OnDelete {
		case "suspend":
			if _, hasTags := side.s.Field("tags"); !hasTags && sy.Suspend != nil && len(sy.Suspend.TagsAdd) > 0 {
				// Caught here rather than at plan time, where every
				// suspend would fail on its own.
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No tags field to add to",
					Detail:  fmt.Sprintf("suspend { tags_add = [...] } adds tags to the suspended record, but %s has no tags field. Remove tags_add, or keep only archive.", side.ref),
					Subject: sy.Suspend.TagsAddRange.Ptr()})
				continue
			}
			archive := sy.Suspend == nil || sy.Suspend.Archive
			_, hasTags := side.s.Field("tags")
			tags := sy.Suspend != nil && len(sy.Suspend.TagsAdd) > 0
			if !(archive && side.s.Caps.Archive) && !(tags && hasTags) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Delete policy not possible",
					Detail:  fmt.Sprintf("on_delete = \"suspend\" needs %s to have an archive flag or a tags field for suspend { tags_add = [...] }; it has neither configured. Add a suspend block with tags_add, or choose retain.", side.ref),
					Subject: sy.OnDeleteRange.Ptr()})
			}
		case "delete":
			if !side.s.Caps.Delete {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Delete policy not possible",
					Detail: fmt.Sprintf("%s cannot delete records; choose retain or suspend.", side.ref), Subject: sy.OnDeleteRange.Ptr()})
			} else if side.s.DeleteCascades && !sy.AllowCascadingDelete {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Hard delete that cannot be undone",
					Detail:  fmt.Sprintf("Deleting a %s record also deletes what hangs off it and cannot be undone. Use on_delete = \"suspend\" (it keeps the history), or set allow_cascading_delete = true if you really mean it.", side.ref),
					Subject: sy.OnDeleteRange.Ptr()})
			}
		}
	}
	return diags
}

func (ws *Workspace) resource(ref config.Ref) (providers.Resource, hcl.Diagnostics) {
	p, ok := ws.providers[ref.Provider]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown provider",
			Detail:  fmt.Sprintf("No provider %q block is configured; add one or fix the reference.", ref.Provider),
			Subject: ref.Range.Ptr()}}
	}
	r, err := p.Resource(ref.Kind)
	if err != nil {
		var kinds []string
		for _, s := range p.Kinds() {
			kinds = append(kinds, ref.Provider+"."+s.Kind)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown resource kind",
			Detail:  fmt.Sprintf("%s does not exist. Available: %s.", ref, strings.Join(kinds, ", ")),
			Subject: ref.Range.Ptr()}}
	}
	return r, nil
}

// checkRefs reports references like source.emial that name no field, so a
// typo fails validation instead of mapping every record to null.
func checkRefs(expr hcl.Expression, root string, s providers.Schema, ref config.Ref) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	var diags hcl.Diagnostics
	obj := s.ObjectType()
	for _, tr := range expr.Variables() {
		if tr.RootName() != root || len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		if !obj.HasAttribute(attr.Name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown field",
				Detail: fmt.Sprintf("%s records have no field %q.%s Fields: %s.", ref, attr.Name,
					config.DidYouMean(attr.Name, names(s, false)), fieldNames(s, false)),
				Subject: tr.SourceRange().Ptr()})
		}
	}
	return diags
}

func fieldNames(s providers.Schema, writable bool) string {
	return strings.Join(names(s, writable), ", ")
}

// names lists a schema's fields: the writable ones, or all of them with
// the record's own id, parent_id and updated_at.
func names(s providers.Schema, writable bool) []string {
	var n []string
	for _, f := range s.Fields {
		if writable && f.ReadOnly {
			continue
		}
		n = append(n, f.Name)
	}
	if !writable {
		n = append(n, "id", "parent_id", "updated_at")
	}
	return n
}

// valueCheck evaluates record expressions once, before any record is
// read, with source and target bound to records whose every field is
// unknown: what fails or has the wrong type then fails for every record,
// which the plan would otherwise report record by record.
type valueCheck struct {
	evalCtx *hcl.EvalContext
}

func newValueCheck(ss, ts providers.Schema, baseDir string) *valueCheck {
	return &valueCheck{evalCtx: config.CheckEvalContext(map[string]cty.Value{
		"source": unknownRecord(ss), "target": unknownRecord(ts)}, baseDir)}
}

// unknownRecord is diff's record object (schema fields, id, parent_id,
// updated_at) with every attribute unknown.
func unknownRecord(s providers.Schema) cty.Value {
	types := s.ObjectType().AttributeTypes()
	attrs := make(map[string]cty.Value, len(types))
	for name, t := range types {
		attrs[name] = cty.UnknownVal(t)
	}
	return cty.ObjectVal(attrs)
}

func (c *valueCheck) eval(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(c.evalCtx)
	for _, d := range diags {
		// The unknown records are an artefact of the check; a diagnostic
		// printer would show their values as if a record had them.
		d.EvalContext = nil
	}
	return v, diags
}

// field checks that expr gives a value the field can hold.
func (c *valueCheck) field(expr hcl.Expression, f providers.Field, ref config.Ref) hcl.Diagnostics {
	v, diags := c.eval(expr)
	if diags.HasErrors() || v.IsNull() || f.Type == cty.NilType || f.Type == cty.DynamicPseudoType {
		return diags
	}
	// Convert, not just a type check, so that a constant that cannot
	// convert (tonumber's "abc") is caught; unknown values convert when
	// their type can.
	if _, err := convert.Convert(v, f.Type); err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect value type",
			Detail: fmt.Sprintf("%s field %q holds a %s, but this expression gives a %s that cannot be converted to one. "+
				"Change the expression to give a %s.", ref, f.Name, f.Type.FriendlyName(), v.Type().FriendlyName(), f.Type.FriendlyName()),
			Subject: expr.Range().Ptr()})
	}
	return diags
}

// key checks that a match key expression gives what the diff can compare:
// a string, a number, or a list, set or tuple of those (or null).
func (c *valueCheck) key(expr hcl.Expression, name string) hcl.Diagnostics {
	v, diags := c.eval(expr)
	if diags.HasErrors() || v.IsNull() || keyType(v.Type()) {
		return diags
	}
	return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect value type",
		Detail: fmt.Sprintf("Match key %q must give a string or a list of strings, but this expression gives a %s.",
			name, v.Type().FriendlyName()),
		Subject: expr.Range().Ptr()})
}

func keyType(t cty.Type) bool {
	switch {
	case t == cty.DynamicPseudoType || t == cty.String || t == cty.Number:
		return true
	case t.IsListType() || t.IsSetType():
		return keyType(t.ElementType())
	case t.IsTupleType():
		for _, e := range t.TupleElementTypes() {
			if !keyType(e) {
				return false
			}
		}
		return true
	}
	return false
}
