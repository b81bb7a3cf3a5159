package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
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
		problems = append(problems, fmt.Sprintf("sync.%s %s %s: %s", ch.Sync, ch.Action, ch.Source.ID+ch.Target.ID, fmt.Sprintf(format, args...)))
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
			for _, f := range ch.Fields {
				if f.Field != written.ArchiveField && f.Field != "tags" {
					bad(ch, "a suspend writes only the archive flag and tags, not %q", f.Field)
				}
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
