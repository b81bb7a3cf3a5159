package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
)

// Parents pairs the parent records of a child sync (the contacts under
// which tasks and notes live): for each parent on the child sync's source
// side, its counterpart on the child sync's target side, or the parent
// change it waits for when the counterpart is created in the same apply.
type Parents struct {
	bySource map[string]string // child-source parent id -> child-target parent id
	byTarget map[string]string
	// awaitTarget: child-source parent id -> the parent create to wait for.
	awaitTarget map[string]*plan.ParentWait
	// awaitSource: child-target parent id -> the parent create to wait for.
	awaitSource map[string]*plan.ParentWait
	// goneSource and goneTarget are parents, by the child sync's sides,
	// that the parent sync found gone.
	goneSource, goneTarget map[string]bool
}

// NewParents builds the pairing from the parent sync's links and its
// planned changes. flipped is set when the child sync runs the other way
// from its parent (Paperbell tasks into GHL under a GHL-to-Paperbell
// contacts sync): its source side is then the parent sync's target side.
//
// gone is what the parent sync's diff found gone (its Result.Gone).
func NewParents(parentSync string, links []state.Link, changes []plan.Change, flipped bool, gone Gone) *Parents {
	p := &Parents{bySource: map[string]string{}, byTarget: map[string]string{},
		awaitTarget: map[string]*plan.ParentWait{}, awaitSource: map[string]*plan.ParentWait{},
		goneSource: map[string]bool{}, goneTarget: map[string]bool{}}
	gs, gt := gone.Sources, gone.Targets
	if flipped {
		gs, gt = gt, gs
	}
	for _, id := range gs {
		p.goneSource[id] = true
	}
	for _, id := range gt {
		p.goneTarget[id] = true
	}
	pair := func(parentSource, parentTarget string) {
		s, t := parentSource, parentTarget
		if flipped {
			s, t = t, s
		}
		p.bySource[s] = t
		p.byTarget[t] = s
	}
	for _, l := range links {
		if l.Status == "" || l.Status == state.LinkActive {
			pair(l.SourceID, l.TargetID)
			continue
		}
		// A suspended or deleted parent link: its children are not read
		// on either side, and must not look deleted for that.
		s, t := l.SourceID, l.TargetID
		if flipped {
			s, t = t, s
		}
		p.goneSource[s], p.goneTarget[t] = true, true
	}
	for _, ch := range changes {
		switch {
		case ch.Action == plan.Link && ch.Target.ID != "":
			pair(ch.Source.ID, ch.Target.ID)
		case ch.Action == plan.Create && ch.Side == plan.SideTarget:
			// The parent exists on the parent sync's source side only.
			w := &plan.ParentWait{Sync: parentSync, ID: ch.Source.ID, By: plan.SideSource}
			if flipped {
				p.awaitSource[ch.Source.ID] = w
			} else {
				p.awaitTarget[ch.Source.ID] = w
			}
		case ch.Action == plan.Create && ch.Side == plan.SideSource:
			// Created on the parent sync's source side from its target.
			w := &plan.ParentWait{Sync: parentSync, ID: ch.Target.ID, By: plan.SideTarget}
			if flipped {
				p.awaitTarget[ch.Target.ID] = w
			} else {
				p.awaitSource[ch.Target.ID] = w
			}
		}
	}
	return p
}

// targetFor resolves a child-source parent id to its counterpart, or to the
// change to wait for. Both empty means the parent is not linked.
func (p *Parents) targetFor(sourceParent string) (string, *plan.ParentWait) {
	if t, ok := p.bySource[sourceParent]; ok {
		return t, nil
	}
	return "", p.awaitTarget[sourceParent]
}

// sourceFor is targetFor the other way.
func (p *Parents) sourceFor(targetParent string) (string, *plan.ParentWait) {
	if s, ok := p.byTarget[targetParent]; ok {
		return s, nil
	}
	return "", p.awaitSource[targetParent]
}

// sourceParentGone and targetParentGone report whether a child's parent
// on that side was found gone by the parent sync. A nil p (not a child
// sync) has no parents to lose.
func (p *Parents) sourceParentGone(id string) bool { return p != nil && id != "" && p.goneSource[id] }
func (p *Parents) targetParentGone(id string) bool { return p != nil && id != "" && p.goneTarget[id] }

// sourceParents and targetParents are the parents whose children are read:
// the linked ones, and those whose counterpart is created in this apply
// (their children are created right after them).
func (p *Parents) sourceParents() []string { return keys(p.bySource, p.awaitTarget) }
func (p *Parents) targetParents() []string { return keys(p.byTarget, p.awaitSource) }

func keys(linked map[string]string, waiting map[string]*plan.ParentWait) []string {
	out := make([]string, 0, len(linked)+len(waiting))
	for k := range linked {
		out = append(out, k)
	}
	for k := range waiting {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ListUnder lists r's records under each of parents, once per distinct
// parent. A parent that is gone (a deleted contact) has no children to
// list, and its own sync's delete policy deals with it, so it is skipped
// rather than failing the whole read; every other error stops the read.
func ListUnder(ctx context.Context, r providers.Resource, parents []string, fn func(providers.Record) error) error {
	seen := make(map[string]bool, len(parents))
	for _, pid := range parents {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		err := r.List(ctx, providers.ListOptions{ParentID: pid}, fn)
		if errors.Is(err, providers.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("under %s: %w", pid, err)
		}
	}
	return nil
}
