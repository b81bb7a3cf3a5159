// Package apply carries out a plan: it writes each change through the
// provider contract, journalling the intent before the write and the
// outcome after it, and records links with their base snapshots so the next
// plan knows what it wrote.
//
// The journal is what makes a killed apply safe to rerun: a create whose
// outcome was never recorded is first looked up (by the provider's Finder,
// with the values it was about to write) and adopted if it exists, so a
// rerun never makes a second record. One failed record never stops the
// others; every failure is reported with the record it concerns.
package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// Sides gives the executor the two resources of one sync.
type Sides struct {
	Source providers.Resource
	Target providers.Resource
}

// Hooks receive progress; the engine never prints. Every method may be
// called from several goroutines.
type Hooks interface {
	// Started is called once with the number of writes to do.
	Started(total int)
	// Done is called after each change, with its error if it failed.
	Done(ch plan.Change, outcome Outcome, err error)
}

// NopHooks ignores everything; embed it to implement only some hooks.
type NopHooks struct{}

func (NopHooks) Started(int)                      {}
func (NopHooks) Done(plan.Change, Outcome, error) {}

// Outcome is what became of one change.
type Outcome string

// Outcomes.
const (
	Applied Outcome = "applied"
	// Adopted means a create found the record already there (a duplicate
	// answer, or a half-done earlier write) and linked it instead.
	Adopted Outcome = "adopted"
	// Stale means a saved plan's record moved since the plan; skipped.
	Stale  Outcome = "skipped (changed since plan)"
	Failed Outcome = "failed"
)

// Options tune an apply.
type Options struct {
	RunID string
	// Sides maps a sync name to its resources.
	Sides map[string]Sides
	Store state.Store
	Hooks Hooks
	// CheckStale re-reads each record before writing and skips changes
	// whose record differs from the plan's snapshot (saved plans).
	CheckStale bool
	// Workers is the number of changes written at once; 0 means 4. The
	// providers' rate limiters are the real throttle.
	Workers int
	Now     func() time.Time
	// Linked holds, per sync, the source ids that already have a link
	// (after recovery); a saved plan's create for one of them is skipped.
	Linked map[string]map[string]bool
	// Current, when set for a sync, holds digests of every record as read
	// just before applying, so CheckStale compares without one read per
	// change. Syncs without an entry are re-read record by record.
	Current map[string]Digests
}

// Digests are record fingerprints by id, per side.
type Digests struct {
	Source, Target map[string]string
}

// Result summarises an apply.
type Result struct {
	Counts map[Outcome]int
	// Errors lists each failure with the record it concerns.
	Errors []string
}

// Apply writes the plan's changes. It returns an error only when it could
// not run at all; per-record failures are in the result.
func Apply(ctx context.Context, p *plan.Plan, opts Options) (Result, error) {
	if !p.Complete {
		return Result{}, errors.New("the plan is incomplete (a listing failed); make a new plan")
	}
	if opts.Hooks == nil {
		opts.Hooks = NopHooks{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	var todo []plan.Change
	for _, ch := range p.Changes {
		if ch.Action.Writes() {
			todo = append(todo, ch)
		}
	}
	opts.Hooks.Started(len(todo))
	res := Result{Counts: map[Outcome]int{}}
	var mu sync.Mutex
	jobs := make(chan plan.Change)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range jobs {
				out, err := applyOne(ctx, ch, opts)
				mu.Lock()
				res.Counts[out]++
				if err != nil {
					res.Errors = append(res.Errors, fmt.Sprintf("sync.%s %s %s: %v", ch.Sync, ch.Action, describe(ch), err))
				}
				mu.Unlock()
				opts.Hooks.Done(ch, out, err)
			}
		}()
	}
	for _, ch := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- ch
	}
	close(jobs)
	wg.Wait()
	return res, ctx.Err()
}

func describe(ch plan.Change) string {
	s := ch.Source.String()
	if ch.Label != "" {
		s += " (" + ch.Label + ")"
	}
	return s
}

func applyOne(ctx context.Context, ch plan.Change, opts Options) (Outcome, error) {
	sides, ok := opts.Sides[ch.Sync]
	if !ok {
		return Failed, fmt.Errorf("sync %q is not in the config", ch.Sync)
	}
	target := sides.Target
	if opts.CheckStale {
		if moved, err := stale(ctx, ch, sides, opts.Current); err != nil {
			return Failed, err
		} else if moved {
			return Stale, nil
		}
	}
	switch ch.Action {
	case plan.Create:
		return create(ctx, ch, target, opts)
	case plan.Update, plan.Link:
		if err := update(ctx, ch, target, ch.Target.ID, opts); err != nil {
			return Failed, err
		}
		return Applied, nil
	}
	return Failed, fmt.Errorf("action %s is not supported by this version", ch.Action)
}

// stale reports whether the records a saved plan was made from moved.
func stale(ctx context.Context, ch plan.Change, sides Sides, current map[string]Digests) (bool, error) {
	if d, ok := current[ch.Sync]; ok {
		if d.Source[ch.Source.ID] != ch.SourceSnapshot {
			return true, nil
		}
		return ch.Target.ID != "" && d.Target[ch.Target.ID] != ch.Snapshot, nil
	}
	src, err := sides.Source.Get(ctx, ch.Source.ParentID, ch.Source.ID)
	if err != nil {
		return false, fmt.Errorf("re-read source: %w", err)
	}
	if diff.Digest(sides.Source.Schema(), src) != ch.SourceSnapshot {
		return true, nil
	}
	if ch.Target.ID == "" {
		return false, nil
	}
	tgt, err := sides.Target.Get(ctx, ch.Target.ParentID, ch.Target.ID)
	if err != nil {
		return false, fmt.Errorf("re-read target: %w", err)
	}
	return diff.Digest(sides.Target.Schema(), tgt) != ch.Snapshot, nil
}

func create(ctx context.Context, ch plan.Change, target providers.Resource, opts Options) (Outcome, error) {
	fields := map[string]cty.Value{}
	for _, f := range ch.Fields {
		fields[f.Field] = f.New
	}
	if opts.Linked[ch.Sync][ch.Source.ID] {
		// Recovery of an interrupted apply already linked this record.
		return Stale, nil
	}
	intent, err := plan.EncodeValues(fields)
	if err != nil {
		return Failed, fmt.Errorf("journal: %w", err)
	}
	opID, err := opts.Store.BeginOp(ctx, state.Op{RunID: opts.RunID, Sync: ch.Sync, Action: "create", Side: string(ch.Side),
		Key: ch.Source.ID, Intent: intent, StartedAt: opts.Now()})
	if err != nil {
		return Failed, fmt.Errorf("journal: %w", err)
	}
	rec, err := target.Create(ctx, ch.Target.ParentID, fields)
	outcome := Applied
	if err != nil {
		found, ferr := recoverCreate(ctx, ch, target, fields, err)
		if ferr != nil {
			finish(ctx, opts, opID, state.OpFailed, "", ferr)
			return Failed, ferr
		}
		rec, outcome = found, Adopted
		// The existing record may differ from what we meant to write.
		if changes := pending(ch, rec, target.Schema()); len(changes) > 0 {
			if rec, err = target.Update(ctx, rec.ParentID, rec.ID, changes); err != nil {
				finish(ctx, opts, opID, state.OpFailed, "", err)
				return Failed, fmt.Errorf("update adopted record %s: %w", rec.ID, err)
			}
		}
	}
	if err := link(ctx, ch, rec, opts); err != nil {
		finish(ctx, opts, opID, state.OpFailed, rec.ID, err)
		return Failed, err
	}
	finish(ctx, opts, opID, state.OpDone, rec.ID, nil)
	return outcome, nil
}

// recoverCreate decides what a failed create means. A duplicate answer
// names the record to adopt; a write that may have landed is looked up by
// the values it carried. Anything else is a real failure.
func recoverCreate(ctx context.Context, ch plan.Change, target providers.Resource, fields map[string]cty.Value, cerr error) (providers.Record, error) {
	if pe, ok := providers.AsError(cerr); ok && errors.Is(cerr, providers.ErrDuplicate) && pe.ExistingID != "" {
		rec, err := target.Get(ctx, ch.Target.ParentID, pe.ExistingID)
		if err != nil {
			return providers.Record{}, fmt.Errorf("%w; reading the existing record %s: %v", cerr, pe.ExistingID, err)
		}
		return rec, nil
	}
	if !providers.MaybeApplied(cerr) && !errors.Is(cerr, providers.ErrDuplicate) {
		return providers.Record{}, cerr
	}
	rec, err := find(ctx, target, ch.Target.ParentID, fields)
	if err != nil {
		return providers.Record{}, fmt.Errorf("%w; looking the record up afterwards: %v", cerr, err)
	}
	if rec == nil {
		return providers.Record{}, cerr
	}
	return *rec, nil
}

// find looks a record up by the values a create carried; nil when absent.
func find(ctx context.Context, target providers.Resource, parentID string, fields map[string]cty.Value) (*providers.Record, error) {
	finder, ok := target.(providers.Finder)
	if !ok {
		return nil, nil
	}
	recs, err := finder.Find(ctx, parentID, fields)
	if err != nil {
		return nil, err
	}
	switch len(recs) {
	case 0:
		return nil, nil
	case 1:
		return &recs[0], nil
	}
	return nil, fmt.Errorf("%d records match; not guessing", len(recs))
}

// pending lists the planned fields a record does not hold yet.
func pending(ch plan.Change, rec providers.Record, s providers.Schema) []providers.Change {
	var out []providers.Change
	for _, f := range ch.Fields {
		sf, _ := s.Field(f.Field)
		if diff.Equal(sf, rec.Fields[f.Field], f.New) {
			continue
		}
		out = append(out, providers.Change{Field: f.Field, Old: rec.Fields[f.Field], New: f.New})
	}
	return out
}

func update(ctx context.Context, ch plan.Change, target providers.Resource, id string, opts Options) error {
	var changes []providers.Change
	for _, f := range ch.Fields {
		changes = append(changes, providers.Change{Field: f.Field, Old: f.Old, New: f.New})
	}
	var rec providers.Record
	if len(changes) > 0 {
		intent, _ := json.Marshal(map[string]string{"source": ch.Source.ID, "target": id})
		opID, err := opts.Store.BeginOp(ctx, state.Op{RunID: opts.RunID, Sync: ch.Sync, Action: ch.Action.String(),
			Side: string(ch.Side), Key: ch.Source.ID, RecordID: id, Intent: intent, StartedAt: opts.Now()})
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		rec, err = target.Update(ctx, ch.Target.ParentID, id, changes)
		if err != nil {
			finish(ctx, opts, opID, state.OpFailed, id, err)
			return err
		}
		finish(ctx, opts, opID, state.OpDone, id, nil)
	} else {
		// Adopting without changes: the link's "seen" base is the record
		// as it is now.
		var err error
		if rec, err = target.Get(ctx, ch.Target.ParentID, id); err != nil {
			return fmt.Errorf("read %s: %w", id, err)
		}
	}
	return link(ctx, ch, rec, opts)
}

// link records the pairing with its base: what we meant the target to hold
// and what it echoed.
func link(ctx context.Context, ch plan.Change, rec providers.Record, opts Options) error {
	seen := map[string]cty.Value{}
	for name := range ch.Desired {
		if v, ok := rec.Fields[name]; ok {
			seen[name] = v
		}
	}
	base, err := diff.EncodeBase(diff.Base{Wrote: ch.Desired, Seen: seen})
	if err != nil {
		return err
	}
	now := opts.Now()
	l := state.Link{Sync: ch.Sync, SourceID: ch.Source.ID, TargetID: rec.ID, SourceParent: ch.Source.ParentID,
		TargetParent: rec.ParentID, TargetBase: base, Status: state.LinkActive, CreatedAt: now, UpdatedAt: now}
	if err := opts.Store.PutLink(ctx, l); err != nil {
		return fmt.Errorf("record link %s -> %s: %w", ch.Source.ID, rec.ID, err)
	}
	return nil
}

func finish(ctx context.Context, opts Options, id int64, status, recordID string, err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	// A journal write that fails here leaves the op pending, which the
	// next run's recovery handles; the write itself already happened.
	_ = opts.Store.FinishOp(context.WithoutCancel(ctx), id, status, recordID, text)
}
