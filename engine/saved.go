package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// checkSaved re-checks a plan loaded from a file against the config and
// the state before anything is written. A plan file is data anyone can
// edit, so the config's rules are enforced again here rather than trusted
// from plan time: only linked records are deleted or suspended, and only
// under the policy the config names; only mapped fields are written; and
// the max_deletes guard is counted afresh.
func (ws *Workspace) checkSaved(ctx context.Context, p *plan.Plan, allowMass bool) error {
	var problems []string
	bad := func(ch plan.Change, format string, args ...any) {
		ids := ch.Source.ID + ch.Target.ID
		if ch.Source.ID != "" && ch.Target.ID != "" {
			ids = ch.Source.ID + " → " + ch.Target.ID
		}
		problems = append(problems, fmt.Sprintf("sync.%s %s %s: %s", ch.Sync, ch.Action, ids, fmt.Sprintf(format, args...)))
	}
	type linkSet struct {
		bySource, byTarget map[string]state.Link
		active             int
	}
	links := map[string]*linkSet{}
	deletes := map[string]int{}
	for _, ch := range p.Changes {
		if !ch.Action.Writes() {
			continue
		}
		b, ok := ws.bindingNamed(ch.Sync)
		if !ok {
			bad(ch, "the config has no sync %q", ch.Sync)
			continue
		}
		ls, ok := links[ch.Sync]
		if !ok {
			all, err := ws.Store.Links(ctx, ch.Sync)
			if err != nil {
				return err
			}
			ls = &linkSet{bySource: map[string]state.Link{}, byTarget: map[string]state.Link{}}
			for _, l := range all {
				ls.bySource[l.SourceID] = l
				ls.byTarget[l.TargetID] = l
				if l.Status == "" || l.Status == state.LinkActive {
					ls.active++
				}
			}
			links[ch.Sync] = ls
		}
		sy := b.sync
		linked := func() bool {
			l, ok := ls.bySource[ch.Source.ID]
			return ok && l.TargetID == ch.Target.ID && (l.Status == "" || l.Status == state.LinkActive)
		}
		allowed := map[string]bool{}
		rev := map[string]bool{}
		for _, m := range sy.Map {
			allowed[m.Field] = true
		}
		for _, m := range sy.ReverseMap {
			rev[m.Field] = true
		}
		written := b.target.Schema()
		if ch.Side == plan.SideSource {
			written = b.source.Schema()
			allowed, rev = rev, allowed
		}
		if ch.Action == plan.Delete || ch.Action == plan.Suspend {
			there, err := ws.stillThere(ctx, b, ch)
			if err != nil {
				return err
			}
			if there != "" {
				bad(ch, "%s", there)
			}
		}
		switch ch.Action {
		case plan.Delete:
			deletes[ch.Sync]++
			switch {
			case sy.OnDelete != "delete":
				bad(ch, "the config's on_delete is %q, not delete", sy.OnDelete)
			case written.DeleteCascades && !sy.AllowCascadingDelete:
				bad(ch, "deletes of %s cascade and the config does not allow_cascading_delete", written.Kind)
			case !linked():
				bad(ch, "bellsync did not link these records, so it will not delete either")
			}
		case plan.Suspend:
			deletes[ch.Sync]++
			switch {
			case sy.OnDelete != "suspend":
				bad(ch, "the config's on_delete is %q, not suspend", sy.OnDelete)
			case !linked():
				bad(ch, "bellsync did not link these records, so it will not suspend either")
			}
			if why := suspendAsConfigured(sy, written, ch); why != "" {
				bad(ch, "%s", why)
			}
		case plan.Update:
			if !linked() {
				bad(ch, "the records are not linked")
			}
		case plan.Link:
			if l, ok := ls.byTarget[ch.Target.ID]; ok && l.SourceID != ch.Source.ID {
				bad(ch, "the target is already linked to %s", l.SourceID)
			}
		}
		if ch.Action == plan.Create || ch.Action == plan.Link || ch.Action == plan.Update {
			if why := plannedFrom(b, ch); why != "" {
				bad(ch, "%s", why)
			} else {
				for _, why := range valuesAsConfigured(b, ch, ls.bySource[ch.Source.ID]) {
					bad(ch, "%s", why)
				}
			}
		}
		if ch.Action == plan.Create || ch.Action == plan.Update || ch.Action == plan.Link {
			for _, f := range ch.Fields {
				if !allowed[f.Field] {
					bad(ch, "field %q is not set by the config's map", f.Field)
				}
			}
			for _, f := range ch.Reverse {
				if !rev[f.Field] {
					bad(ch, "field %q is not set by the config's reverse_map", f.Field)
				}
			}
		}
	}
	if !allowMass {
		for name, n := range deletes {
			b, _ := ws.bindingNamed(name)
			limit, err := diff.DeleteLimit(b.sync.MaxDeletes, links[name].active)
			if err == nil && n > limit {
				problems = append(problems, fmt.Sprintf("sync %q deletes or suspends %d records, more than max_deletes allows (%d); pass -allow-mass-delete if this is intended", name, n, limit))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
	}
	return fmt.Errorf("the plan file asks for changes the config does not allow, so nothing was applied:\n  %s", strings.Join(problems, "\n  "))
}

func (ws *Workspace) bindingNamed(name string) (*binding, bool) {
	for _, b := range ws.bindings {
		if b.sync.Name == name {
			return b, true
		}
	}
	return nil, false
}

// plannedFrom checks that a change is the one its own recorded records
// show: the ids and fingerprints it carries are those of the records it
// kept (both for a pairing, the one read for a create), and, for a new
// link, those records share a match key. Apply then checks the live
// records against the same fingerprints, so a plan file edited to link or
// write the wrong record is refused here rather than skipped later as
// "changed".
func plannedFrom(b *binding, ch plan.Change) string {
	src, tgt := ch.Extra["source"], ch.Extra["target"]
	needSrc := ch.Action != plan.Create || ch.Side == plan.SideTarget
	needTgt := ch.Action != plan.Create || ch.Side == plan.SideSource
	if (needSrc && src == cty.NilVal) || (needTgt && tgt == cty.NilVal) {
		return "the change does not carry the records it was planned from"
	}
	if needSrc {
		sr := diff.RecordFrom(b.source.Schema(), src)
		switch {
		case sr.ID != ch.Source.ID:
			return fmt.Sprintf("it names source record %s but was planned from %s", ch.Source.ID, sr.ID)
		case ch.SourceSnapshot != "" && ch.SourceSnapshot != diff.Digest(b.source.Schema(), sr):
			return "its source fingerprint does not match the record it was planned from"
		}
	}
	if needTgt {
		tr := diff.RecordFrom(b.target.Schema(), tgt)
		switch {
		case tr.ID != ch.Target.ID:
			return fmt.Sprintf("it names target record %s but was planned from %s", ch.Target.ID, tr.ID)
		case ch.Snapshot != "" && ch.Snapshot != diff.Digest(b.target.Schema(), tr):
			return "its target fingerprint does not match the record it was planned from"
		}
	}
	if ch.Action == plan.Link && len(b.sync.Match) > 0 {
		if _, ok := diff.SharesKey(b.input, src, tgt); !ok {
			return "the two records share no match key, so the config would never link them"
		}
	}
	return ""
}

// valuesAsConfigured checks every value a change would write against what
// the config's maps give for the records it was planned from, or, for a
// set field changed on both sides, against the merge of the two with the
// link's base.
func valuesAsConfigured(b *binding, ch plan.Change, link state.Link) []string {
	fwd, rev, problem := diff.Recompute(b.input, ch)
	if problem != "" {
		return []string{"the config's maps fail on the records it was planned from: " + problem}
	}
	var out []string
	check := func(fcs []plan.FieldChange, want map[string]cty.Value, s providers.Schema, side string, rec cty.Value, base []byte) {
		var seen map[string]cty.Value
		if b, err := diff.DecodeBase(base); err == nil {
			seen = b.Seen
		}
		cur := diff.RecordFrom(s, rec)
		for _, fc := range fcs {
			f, _ := s.Field(fc.Field)
			w, ok := want[fc.Field]
			if ok && !diff.Equal(f, w, fc.New) && f.Set {
				// A merge, with the link's base or, for a new link, none.
				w = diff.MergeSet(f, w, cur.Fields[fc.Field], seen[fc.Field])
			}
			if !ok || !diff.Equal(f, w, fc.New) {
				out = append(out, fmt.Sprintf("the value it writes to %s field %q is not what the config gives", side, fc.Field))
			}
		}
	}
	src, tgt := ch.Extra["source"], ch.Extra["target"]
	if ch.Action == plan.Create && ch.Side == plan.SideSource {
		check(ch.Fields, rev, b.source.Schema(), "source", src, nil)
		return out
	}
	check(ch.Fields, fwd, b.target.Schema(), "target", tgt, link.TargetBase)
	check(ch.Reverse, rev, b.source.Schema(), "source", src, link.SourceBase)
	return out
}

// stillThere reads the record whose deletion a delete or suspend answers
// (the other side's) and says why the change must not be made if that
// record exists: a plan file must not retire a record whose counterpart
// was never deleted.
func (ws *Workspace) stillThere(ctx context.Context, b *binding, ch plan.Change) (string, error) {
	r, ref := b.source, ch.Source
	if ch.Side == plan.SideSource {
		r, ref = b.target, ch.Target
	}
	_, err := r.Get(ctx, ref.ParentID, ref.ID)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("check that %s %s is deleted before applying the saved plan: %w", ref.Kind, ref.ID, err)
	}
	return fmt.Sprintf("its linked %s record %s still exists, so there is nothing to answer with a %s", ref.Provider+"."+ref.Kind, ref.ID, ch.Action), nil
}

// suspendAsConfigured checks a suspend's writes against what the config's
// suspend block gives for the record the change was planned from.
func suspendAsConfigured(sy *config.Sync, written providers.Schema, ch plan.Change) string {
	obj := ch.Extra[string(ch.Side)]
	if obj == cty.NilVal {
		return "the change does not carry the record it was planned from"
	}
	want, problem := diff.SuspendWrites(written, sy.Suspend, diff.RecordFrom(written, obj))
	if problem != "" {
		return problem
	}
	byField := map[string]cty.Value{}
	for _, fc := range want {
		byField[fc.Field] = fc.New
	}
	if len(want) != len(ch.Fields) {
		return "its writes are not the ones the config's suspend block gives"
	}
	for _, fc := range ch.Fields {
		f, _ := written.Field(fc.Field)
		if fc.Field == written.ArchiveField {
			f = providers.Field{Name: fc.Field, Type: cty.Bool}
		}
		w, ok := byField[fc.Field]
		if !ok || !diff.Equal(f, w, fc.New) {
			return fmt.Sprintf("a suspend writes only what the config's suspend block gives, not this %q", fc.Field)
		}
	}
	return ""
}
