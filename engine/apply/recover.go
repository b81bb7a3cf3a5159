package apply

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
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
// create that never landed is marked failed and planned afresh. An
// interrupted on_create rule is looked up and, if it never landed, fired
// now, because no later plan would fire it again. Updates and deletes are
// idempotent and are simply planned again.
func Recover(ctx context.Context, store state.Store, sync string, sides Sides, binder Binder) ([]Recovered, error) {
	ops, err := store.PendingOps(ctx, sync)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", sync, err)
	}
	var out []Recovered
	for _, op := range ops {
		r := Recovered{Op: op}
		switch {
		case op.Action == "create":
			r.RecordID, r.Err = recoverCreateOp(ctx, store, sync, sides, binder, op)
		case strings.HasPrefix(op.Action, "on_create/"):
			r.RecordID, r.Err = recoverRuleOp(ctx, store, sync, binder, op)
		default:
			r.Err = store.FinishOp(ctx, op.ID, state.OpFailed, op.RecordID, "interrupted; planned again")
		}
		out = append(out, r)
	}
	return out, nil
}

func recoverCreateOp(ctx context.Context, store state.Store, sync string, sides Sides, binder Binder, op state.Op) (string, error) {
	parent, fields, err := decodeIntent(op.Intent)
	if err != nil {
		return "", fmt.Errorf("journal entry %d: %w", op.ID, err)
	}
	written := sides.Target
	if op.Side == string(plan.SideSource) {
		written = sides.Source
	}
	rec, err := find(ctx, written, parent, fields)
	if err != nil {
		// Leave the op pending: without a lookup we cannot know, and
		// creating again could duplicate the record.
		return "", fmt.Errorf("look up interrupted create for %s: %w", op.Key, err)
	}
	if rec == nil {
		return "", store.FinishOp(ctx, op.ID, state.OpFailed, "", "interrupted before the record was created")
	}
	if rec.ParentID == "" {
		rec.ParentID = parent
	}
	// The other side's record is re-read so the link's bases are right.
	var src, tgt providers.Record
	if op.Side == string(plan.SideSource) {
		src = *rec
		if tgt, err = sides.Target.Get(ctx, "", op.Key); err != nil {
			return "", fmt.Errorf("re-read %s after an interrupted create: %w", op.Key, err)
		}
	} else {
		tgt = *rec
		if src, err = getAnywhere(ctx, sides.Source, op.Key); err != nil {
			return "", fmt.Errorf("re-read %s after an interrupted create: %w", op.Key, err)
		}
	}
	srcBase, tgtBase, err := binder.Rebase(sync, src, tgt)
	if err != nil {
		return "", err
	}
	l := state.Link{Sync: sync, SourceID: src.ID, TargetID: tgt.ID, SourceParent: src.ParentID, TargetParent: tgt.ParentID,
		SourceBase: srcBase, TargetBase: tgtBase, Status: state.LinkActive, CreatedAt: op.StartedAt, UpdatedAt: op.StartedAt}
	if err := store.PutLink(ctx, l); err != nil {
		return "", err
	}
	if op.Side == string(plan.SideTarget) {
		// The apply may have died before the record's on_create rules
		// fired; no later plan would fire them, so do it now.
		if err := fireRecovered(ctx, store, sync, binder, op.Key, src, tgt); err != nil {
			return "", err
		}
	}
	return rec.ID, store.FinishOp(ctx, op.ID, state.OpDone, rec.ID, "recovered after interruption")
}

// fireRecovered fires every on_create rule of sync not yet fired for key,
// adopting a record the interrupted apply may already have made. The rules
// are numbered from 0; the binder gives no resource past the last one.
func fireRecovered(ctx context.Context, store state.Store, sync string, binder Binder, key string, src, tgt providers.Record) error {
	for i := 0; ; i++ {
		res, fields, err := binder.FollowUp(sync, i, src, tgt)
		if res == nil {
			return nil
		}
		rule := fmt.Sprintf("%s/on_create/%d", sync, i)
		if err != nil {
			return fmt.Errorf("on_create rule %s: %w", rule, err)
		}
		if fired, err := store.Fired(ctx, rule, key); err != nil || fired {
			if err != nil {
				return err
			}
			continue
		}
		rec, err := findChild(ctx, res, tgt.ID, fields)
		if err != nil {
			return fmt.Errorf("look up interrupted %s: %w", rule, err)
		}
		if rec == nil {
			created, err := res.Create(ctx, tgt.ID, fields)
			if err != nil {
				return fmt.Errorf("fire interrupted %s: %w", rule, err)
			}
			rec = &created
		}
		if _, err := store.MarkFired(ctx, rule, key, rec.ID); err != nil {
			return err
		}
	}
}

// getAnywhere reads a record whose parent is not known.
func getAnywhere(ctx context.Context, r providers.Resource, id string) (providers.Record, error) {
	return r.Get(ctx, "", id)
}

func recoverRuleOp(ctx context.Context, store state.Store, sync string, binder Binder, op state.Op) (string, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(op.Action, "on_create/"))
	if err != nil {
		return "", fmt.Errorf("journal entry %d: %w", op.ID, err)
	}
	rule := fmt.Sprintf("%s/on_create/%d", sync, i)
	if fired, err := store.Fired(ctx, rule, op.Key); err != nil || fired {
		if err == nil {
			err = store.FinishOp(ctx, op.ID, state.OpDone, op.RecordID, "already fired")
		}
		return "", err
	}
	parent, fields, err := decodeIntent(op.Intent)
	if err != nil {
		return "", fmt.Errorf("journal entry %d: %w", op.ID, err)
	}
	res, _, err := binder.FollowUp(sync, i, providers.Record{}, providers.Record{ID: parent})
	if res == nil {
		return "", fmt.Errorf("on_create rule %s: %w", rule, err)
	}
	rec, err := findChild(ctx, res, parent, fields)
	if err != nil {
		return "", fmt.Errorf("look up interrupted %s: %w", rule, err)
	}
	if rec == nil {
		created, err := res.Create(ctx, parent, fields)
		if err != nil {
			return "", fmt.Errorf("fire interrupted %s: %w", rule, err)
		}
		rec = &created
	}
	if _, err := store.MarkFired(ctx, rule, op.Key, rec.ID); err != nil {
		return "", err
	}
	return rec.ID, store.FinishOp(ctx, op.ID, state.OpDone, rec.ID, "recovered after interruption")
}
