package diff

import (
	"fmt"

	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/providers"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// evalRule evaluates an on_create rule's attributes with `source` and
// `target` (the record just created, or unknown while planning).
func evalRule(evalCtx *hcl.EvalContext, r Rule, sobj, tobj cty.Value) (map[string]cty.Value, error) {
	child := evalCtx.NewChild()
	child.Variables = map[string]cty.Value{"source": sobj, "target": tobj}
	s := r.Resource.Schema()
	out := map[string]cty.Value{}
	p := problems{}
	for _, a := range r.Config.Attrs {
		v, diags := a.Expr.Value(child)
		if diags.HasErrors() {
			p.add(diagText(diags), fmt.Sprintf("%s at %s", a.Field, origin(a.Range)))
			continue
		}
		f, _ := s.Field(a.Field)
		if v.IsWhollyKnown() {
			cv, err := conform(f, v)
			if err != nil {
				p.add("value does not fit the field: "+err.Error(), fmt.Sprintf("%s at %s", a.Field, origin(a.Range)))
				continue
			}
			v = cv
		}
		out[a.Field] = v
	}
	if msg := p.String(); msg != "" {
		return out, fmt.Errorf("%s", msg)
	}
	return out, nil
}

// Rebase computes the bases to keep with a link once both records are as
// they will stay: each side's mapped values as derived from the other
// side, and what each side holds. Deriving both from the final records is
// what makes the next diff see no change where nobody edited anything.
func Rebase(in Input, src, tgt providers.Record) (srcBase, tgtBase []byte, err error) {
	d := newDiffer(in)
	sobj, tobj := recordObject(d.ss, src), recordObject(d.ts, tgt)
	fwd, rev, problem := d.desire(sobj, tobj)
	if problem != "" {
		return nil, nil, fmt.Errorf("evaluate maps for the new base: %s", problem)
	}
	seenT := map[string]cty.Value{}
	for name := range fwd {
		seenT[name] = tgt.Fields[name]
	}
	if tgtBase, err = EncodeBase(Base{Wrote: fwd, Seen: seenT}); err != nil {
		return nil, nil, err
	}
	if !d.twoWay {
		return nil, tgtBase, nil
	}
	seenS := map[string]cty.Value{}
	for name := range rev {
		seenS[name] = src.Fields[name]
	}
	srcBase, err = EncodeBase(Base{Wrote: rev, Seen: seenS})
	return srcBase, tgtBase, err
}

// FollowUp evaluates on_create rule i for a source record and the target
// record just created from it.
func FollowUp(in Input, i int, src, tgt providers.Record) (Rule, map[string]cty.Value, error) {
	if i < 0 || i >= len(in.Rules) {
		return Rule{}, nil, fmt.Errorf("sync %q has no on_create rule %d", in.Sync.Name, i)
	}
	d := newDiffer(in)
	r := in.Rules[i]
	fields, err := evalRule(in.EvalContext, r, recordObject(d.ss, src), recordObject(d.ts, tgt))
	return r, fields, err
}

// RecordFrom turns a record object kept in a plan (Change.Extra) back into
// a record.
func RecordFrom(s providers.Schema, obj cty.Value) providers.Record {
	if obj == cty.NilVal || obj.IsNull() || !obj.Type().IsObjectType() {
		return providers.Record{Fields: map[string]cty.Value{}}
	}
	r := providers.Record{Fields: map[string]cty.Value{}}
	for _, f := range s.Fields {
		if obj.Type().HasAttribute(f.Name) {
			r.Fields[f.Name] = obj.GetAttr(f.Name)
		}
	}
	if obj.Type().HasAttribute("id") && !obj.GetAttr("id").IsNull() {
		r.ID = obj.GetAttr("id").AsString()
	}
	if obj.Type().HasAttribute("parent_id") && !obj.GetAttr("parent_id").IsNull() {
		r.ParentID = obj.GetAttr("parent_id").AsString()
	}
	return r
}

// Desired evaluates a record's map toward the other side with no
// counterpart yet: the forward map for a source record, the reverse map
// for a target record. Incremental passes use it to look a counterpart up
// by the values it would be given.
func Desired(in Input, rec providers.Record, fromSource bool) (map[string]cty.Value, error) {
	d := newDiffer(in)
	var fwd, rev map[string]cty.Value
	var problem string
	if fromSource {
		fwd, _, problem = d.desireSides(recordObject(d.ss, rec), d.nullTarget(), true, false)
	} else {
		_, rev, problem = d.desireSides(d.nullSource(), recordObject(d.ts, rec), false, true)
	}
	if problem != "" {
		return nil, fmt.Errorf("%s", problem)
	}
	if fromSource {
		return fwd, nil
	}
	return rev, nil
}

// Recompute evaluates the config's maps for a change as planned, from the
// records the change carries (Change.Extra): fwd holds the values for the
// target, rev those for the source. A saved plan's values are checked
// against them, so an edited plan file cannot write what the config would
// not.
func Recompute(in Input, ch plan.Change) (fwd, rev map[string]cty.Value, problem string) {
	d := newDiffer(in)
	src, tgt := ch.Extra["source"], ch.Extra["target"]
	switch {
	case ch.Action == plan.Create && ch.Side == plan.SideTarget:
		fwd, _, problem = d.desireSides(src, d.nullTarget(), true, false)
	case ch.Action == plan.Create:
		_, rev, problem = d.desireSides(d.nullSource(), tgt, false, true)
	default:
		fwd, rev, problem = d.desire(src, tgt)
	}
	return fwd, rev, problem
}
