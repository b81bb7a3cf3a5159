package apply

import (
	"context"
	"fmt"

	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
)

// Recovered describes what Recover did with one interrupted write.
type Recovered struct {
	Op state.Op
	// RecordID is the record found and linked, or "" when the write never
	// landed (it will be planned again).
	RecordID string
	Err      error
}

// Recover settles the writes an earlier apply started but never finished
// (it was killed, or lost its connection mid-write). A create whose record
// exists after all is linked, so the next plan will not create it again; a
// create that never landed is marked failed and planned afresh. Updates are
// idempotent and are simply planned again.
func Recover(ctx context.Context, store state.Store, sync string, sides Sides) ([]Recovered, error) {
	ops, err := store.PendingOps(ctx, sync)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", sync, err)
	}
	var out []Recovered
	for _, op := range ops {
		r := Recovered{Op: op}
		if op.Action != "create" {
			r.Err = store.FinishOp(ctx, op.ID, state.OpFailed, op.RecordID, "interrupted; planned again")
			out = append(out, r)
			continue
		}
		fields, err := plan.DecodeValues(op.Intent)
		if err != nil {
			r.Err = fmt.Errorf("journal entry %d: %w", op.ID, err)
			out = append(out, r)
			continue
		}
		rec, err := find(ctx, sides.Target, "", fields)
		if err != nil {
			// Leave the op pending: without a lookup we cannot know, and
			// creating again could duplicate the record.
			r.Err = fmt.Errorf("look up interrupted create for source %s: %w", op.Key, err)
			out = append(out, r)
			continue
		}
		if rec == nil {
			r.Err = store.FinishOp(ctx, op.ID, state.OpFailed, "", "interrupted before the record was created")
			out = append(out, r)
			continue
		}
		base, err := diff.EncodeBase(diff.Base{Wrote: fields, Seen: rec.Fields})
		if err != nil {
			r.Err = err
			out = append(out, r)
			continue
		}
		l := state.Link{Sync: sync, SourceID: op.Key, TargetID: rec.ID, TargetParent: rec.ParentID,
			TargetBase: base, Status: state.LinkActive, CreatedAt: op.StartedAt, UpdatedAt: op.StartedAt}
		if err := store.PutLink(ctx, l); err != nil {
			r.Err = err
			out = append(out, r)
			continue
		}
		r.RecordID = rec.ID
		r.Err = store.FinishOp(ctx, op.ID, state.OpDone, rec.ID, "recovered after interruption")
		out = append(out, r)
	}
	return out, nil
}
