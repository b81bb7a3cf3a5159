package engine

import (
	"context"
	"fmt"

	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
)

// Orphan is a link whose record is gone on one side or both.
type Orphan struct {
	Sync       string
	Link       state.Link
	SourceGone bool
	TargetGone bool
}

// Audit lists every link whose source or target record no longer exists,
// reading both sides of every sync in full. It writes nothing; a listing
// that fails makes it fail rather than report a record missing.
func (ws *Workspace) Audit(ctx context.Context) ([]Orphan, error) {
	var out []Orphan
	for _, b := range ws.bindings {
		links, err := ws.Store.Links(ctx, b.sync.Name)
		if err != nil {
			return nil, err
		}
		if len(links) == 0 {
			continue
		}
		in, err := ws.input(ctx, b, nil, diff.Gone{})
		if err != nil {
			return nil, err
		}
		ids := func(r providers.Resource, parents []string) (map[string]bool, error) {
			seen := map[string]bool{}
			add := func(rec providers.Record) error { seen[rec.ID] = true; return nil }
			if len(parents) == 0 || r.Schema().Caps.ListAll {
				return seen, r.List(ctx, providers.ListOptions{}, add)
			}
			return seen, diff.ListUnder(ctx, r, parents, add)
		}
		var sp, tp []string
		if in.Parents != nil {
			for _, l := range links {
				sp, tp = append(sp, l.SourceParent), append(tp, l.TargetParent)
			}
		}
		src, err := ids(b.source, sp)
		if err != nil {
			return nil, fmt.Errorf("audit sync %q: list %s: %w", b.sync.Name, b.sync.Source, err)
		}
		tgt, err := ids(b.target, tp)
		if err != nil {
			return nil, fmt.Errorf("audit sync %q: list %s: %w", b.sync.Name, b.sync.Target, err)
		}
		for _, l := range links {
			o := Orphan{Sync: b.sync.Name, Link: l, SourceGone: !src[l.SourceID], TargetGone: !tgt[l.TargetID]}
			if o.SourceGone || o.TargetGone {
				out = append(out, o)
			}
		}
	}
	return out, nil
}
