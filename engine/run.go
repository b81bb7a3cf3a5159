package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// Plan diffs every sync, parents before children. A listing failure makes
// the plan incomplete but other syncs are still planned, so the user sees
// everything at once.
func (ws *Workspace) Plan(ctx context.Context) (*plan.Plan, error) {
	return ws.plan(ctx, false)
}

// plan makes a plan. An unattended plan (the daemon's) also counts against
// max_deletes what was deleted or suspended in the last deleteWindow, since
// nobody reviews it: many small passes must not add up to a mass delete.
func (ws *Workspace) plan(ctx context.Context, unattended bool) (*plan.Plan, error) {
	p := &plan.Plan{ConfigHash: ws.Config.Hash, ConfigFile: ws.Config.Filename, CreatedAt: ws.now().UTC(),
		Unchanged: map[string]int{}, Complete: true}
	last, err := ws.lastWrite(ctx)
	if err != nil {
		return nil, err
	}
	p.StateRun = last
	failed := map[string]bool{}
	gone := map[string]diff.Gone{}
	for _, b := range ws.bindings {
		in, err := ws.input(ctx, b, p, gone[b.sync.Parent])
		if err != nil {
			return nil, err
		}
		if ops, err := ws.Store.PendingOps(ctx, b.sync.Name); err == nil && len(ops) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("sync %q has %d interrupted writes from an earlier apply; apply will settle them first, so this plan may show records it then links instead of creating.", b.sync.Name, len(ops)))
		}
		if failed[b.sync.Parent] {
			failed[b.sync.Name] = true
			p.Complete = false
			p.Warnings = append(p.Warnings, fmt.Sprintf("sync %q was not planned, because its parent sync %q could not be planned", b.sync.Name, b.sync.Parent))
			continue
		}
		res, err := diff.Plan(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			failed[b.sync.Name] = true
			p.Complete = false
			p.Warnings = append(p.Warnings, fmt.Sprintf("sync %q was not planned: %v", b.sync.Name, err))
			continue
		}
		p.Warnings = append(p.Warnings, res.Warnings...)
		sortChanges(res.Changes)
		ws.dropFired(ctx, res.Changes)
		p.Changes = append(p.Changes, res.Changes...)
		p.Unchanged[b.sync.Name] = res.Unchanged
		gone[b.sync.Name] = res.Gone
		recent := 0
		if unattended {
			recent = recentDeletes(in.Links, ws.now().Add(-deleteWindow))
		}
		guardDeletes(p, b, res, recent)
	}
	return p, nil
}

// input is a binding's diff input for this run: its links and, for a child
// sync, its parents as linked or as planned so far, and as found gone by
// the parent sync's diff (parentGone).
func (ws *Workspace) input(ctx context.Context, b *binding, p *plan.Plan, parentGone diff.Gone) (diff.Input, error) {
	in := b.input
	links, err := ws.Store.Links(ctx, b.sync.Name)
	if err != nil {
		return in, fmt.Errorf("read links of sync %q: %w", b.sync.Name, err)
	}
	in.Links = links
	if b.sync.Parent != "" {
		plinks, err := ws.Store.Links(ctx, b.sync.Parent)
		if err != nil {
			return in, fmt.Errorf("read links of sync %q: %w", b.sync.Parent, err)
		}
		var planned []plan.Change
		if p != nil {
			planned = p.Sync(b.sync.Parent)
		}
		in.Parents = diff.NewParents(b.sync.Parent, plinks, planned, b.flipped, parentGone)
	}
	return in, nil
}

// guardDeletes fails the plan closed when a sync would delete or suspend
// more records than max_deletes allows: a listing that silently came back
// short must not empty an account.
//
// recent is how many of the sync's links were deleted or suspended lately
// (by unattended runs); they count toward the limit too.
func guardDeletes(p *plan.Plan, b *binding, res diff.Result, recent int) {
	n := 0
	for _, ch := range res.Changes {
		if ch.Action == plan.Delete || ch.Action == plan.Suspend {
			n++
		}
	}
	if n == 0 {
		return
	}
	// The share is of the links there were before the recent deletes.
	limit, err := diff.DeleteLimit(b.sync.MaxDeletes, res.Links+recent)
	if err != nil {
		p.Blocked = append(p.Blocked, err.Error())
		return
	}
	if n+recent > limit {
		shown := b.sync.MaxDeletes
		if shown == "" {
			shown = "10% (the default)"
		}
		also := ""
		if recent > 0 {
			also = fmt.Sprintf(" (and %d in the last %s)", recent, deleteWindow)
		}
		p.Blocked = append(p.Blocked, fmt.Sprintf("sync %q would delete or suspend %d of %d linked records%s, more than max_deletes = %s allows (%d)",
			b.sync.Name, n, res.Links, also, shown, limit))
	}
}

// deleteWindow is how far back unattended runs count deletes and suspends
// against max_deletes.
const deleteWindow = 24 * time.Hour

// recentDeletes counts links deleted or suspended at or after since.
func recentDeletes(links []state.Link, since time.Time) int {
	n := 0
	for _, l := range links {
		if (l.Status == state.LinkSuspended || l.Status == state.LinkDeleted) && !l.UpdatedAt.Before(since) {
			n++
		}
	}
	return n
}

// holdBackDeletes takes a blocked plan's deletes and suspends out, so an
// unattended run still applies everything else, and says what it held.
func holdBackDeletes(p *plan.Plan) []string {
	if len(p.Blocked) == 0 {
		return nil
	}
	kept := p.Changes[:0]
	held := 0
	for _, ch := range p.Changes {
		if ch.Action == plan.Delete || ch.Action == plan.Suspend {
			held++
			continue
		}
		kept = append(kept, ch)
	}
	p.Changes = kept
	msgs := make([]string, 0, len(p.Blocked))
	for _, b := range p.Blocked {
		what := fmt.Sprintf("%d deletes and suspends", held)
		if held == 1 {
			what = "1 delete or suspend"
		}
		msgs = append(msgs, fmt.Sprintf("held back %s: %s; the daemon will not make them on its own, so review them with `bellsync plan` and apply them by hand (an interactive plan counts only its own deletes against max_deletes)", what, b))
	}
	p.Blocked = nil
	return msgs
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Hooks apply.Hooks
	// Saved is set when the plan was loaded from a file: apply re-reads
	// each record and skips those that moved since.
	Saved bool
	// LockWait waits for another apply to finish instead of failing.
	LockWait bool
	Workers  int
	// AllowMassDelete applies a plan the max_deletes guard blocked.
	AllowMassDelete bool
	// Kind is recorded in the run history ("apply", "full", ...).
	Kind string
	// Unattended is set for the daemon's runs, which nobody reviews: the
	// max_deletes guard then also counts the last day's deletes, and a
	// blocked plan's deletes are held back while the rest is applied.
	Unattended bool
}

// ErrConfigChanged is returned when a saved plan came from another config.
var ErrConfigChanged = errors.New("the config changed since this plan was made")

// ErrStateChanged is returned when a saved plan is older than the newest
// run that wrote (it was applied already, or something else ran since).
var ErrStateChanged = errors.New("the state changed since this plan was made")

// lastWriteCursor holds the id of the newest run that wrote, or may have
// written, to either system.
const lastWriteCursor = "runs/last-write"

// lastWrite is the id of the newest run that may have written, or "".
func (ws *Workspace) lastWrite(ctx context.Context) (string, error) {
	id, err := ws.Store.Cursor(ctx, lastWriteCursor)
	if err != nil {
		return "", fmt.Errorf("read run history: %w", err)
	}
	return id, nil
}

// markWritten records run as the newest that may have written. It must
// not be lost to a cancelled context: a saved plan would then be applied
// over the writes.
func (ws *Workspace) markWritten(ctx context.Context, runID string) {
	if err := ws.Store.SetCursor(context.WithoutCancel(ctx), lastWriteCursor, runID); err != nil {
		ws.log.Warn("could not record that a run wrote; saved plans made before it may still be applied", "run", runID, "err", err)
	}
}

// Apply carries a plan out. With a nil plan it makes a fresh one after
// recovery, so interrupted writes are settled before anything is planned.
func (ws *Workspace) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*plan.Plan, apply.Result, error) {
	if p != nil && p.ConfigHash != ws.Config.Hash {
		return p, apply.Result{}, fmt.Errorf("%w (%s); run `bellsync plan` again", ErrConfigChanged, ws.Config.Filename)
	}
	unlock, err := ws.Store.Lock(ctx, "apply", opts.LockWait)
	if err != nil {
		return p, apply.Result{}, err
	}
	defer unlock()
	ws.settleRuns(ctx)
	if p != nil {
		// Checked under the lock, so no run can slip in between.
		last, err := ws.lastWrite(ctx)
		if err != nil {
			return p, apply.Result{}, err
		}
		if last != p.StateRun {
			return p, apply.Result{}, fmt.Errorf("%w: run %s wrote after it (see `bellsync runs`), and may already have made what this plan would make; run `bellsync plan` again",
				ErrStateChanged, last)
		}
	}
	kind := opts.Kind
	switch {
	case kind != "":
	case p != nil:
		kind = "apply-saved"
	default:
		// A fresh apply reads everything, as a full pass does, and counts
		// as one for the daemon.
		kind = "apply"
	}
	start := ws.now().UTC()
	runID := fmt.Sprintf("%s-%d", ws.now().UTC().Format("20060102T150405.000"), os.Getpid())
	run := state.Run{ID: runID, Kind: kind, StartedAt: ws.now().UTC(), Status: "running"}
	_ = ws.Store.StartRun(ctx, run)

	linked, err := ws.recover(ctx)
	if err != nil {
		ws.finishRun(ctx, run, apply.Result{}, err)
		return p, apply.Result{}, err
	}
	fresh := p == nil
	var held []string
	if fresh {
		if p, err = ws.plan(ctx, opts.Unattended); err != nil {
			ws.finishRun(ctx, run, apply.Result{}, err)
			return nil, apply.Result{}, err
		}
		if !p.Complete {
			err := fmt.Errorf("nothing was applied, because a listing failed: %s", strings.Join(p.Warnings, "; "))
			ws.finishRun(ctx, run, apply.Result{}, err)
			return p, apply.Result{}, err
		}
		if opts.Unattended && !opts.AllowMassDelete {
			held = holdBackDeletes(p)
		}
	}
	var current map[string]apply.Digests
	if opts.Saved {
		if err := ws.checkSaved(ctx, p, opts.AllowMassDelete); err != nil {
			ws.finishRun(ctx, run, apply.Result{}, err)
			return p, apply.Result{}, err
		}
		if current, err = ws.snapshots(ctx, p); err != nil {
			ws.finishRun(ctx, run, apply.Result{}, err)
			return p, apply.Result{}, err
		}
	}
	aopts := apply.Options{RunID: runID, Sides: ws.sides(), Store: ws.Store, Binder: binder{ws},
		Hooks: apply.LogHooks(ws.log, opts.Hooks), CheckStale: opts.Saved, Workers: opts.Workers, Now: ws.now, Linked: linked, Current: current,
		AllowMassDelete: opts.AllowMassDelete}
	res, err := apply.Apply(ctx, p, aopts)
	res.Errors = append(res.Errors, held...)
	// Records created in this apply can give a later sync new work (the
	// welcome task a contact's creation added is itself a task to mirror).
	// A fresh apply therefore plans again and applies what appeared, a few
	// rounds at most, so that a plan right after it is empty.
	for round := 1; fresh && err == nil && round < maxRounds && res.Counts[apply.Applied]+res.Counts[apply.Adopted] > 0; round++ {
		next, perr := ws.plan(ctx, opts.Unattended)
		if perr == nil && opts.Unattended && !opts.AllowMassDelete {
			holdBackDeletes(next) // already reported by the first round
		}
		if perr != nil || !next.Complete || !next.HasChanges() || (len(next.Blocked) > 0 && !opts.AllowMassDelete) {
			break
		}
		// A change that failed once in this apply is not tried again in
		// it: its error is reported once, and the next run retries.
		kept := next.Changes[:0]
		for _, ch := range next.Changes {
			if !res.Failed[apply.ChangeKey(ch)] {
				kept = append(kept, ch)
			}
		}
		next.Changes = kept
		if !next.HasChanges() {
			break
		}
		aopts.Linked = nil
		more, aerr := apply.Apply(ctx, next, aopts)
		for k, v := range more.Counts {
			res.Counts[k] += v
		}
		res.Errors = append(res.Errors, more.Errors...)
		res.Created = append(res.Created, more.Created...)
		for k := range more.Failed {
			res.Failed[k] = true
		}
		err = aerr
		for _, ch := range next.Changes {
			if ch.Action.Writes() {
				p.Changes = append(p.Changes, ch)
			}
		}
		if more.Counts[apply.Applied]+more.Counts[apply.Adopted] == 0 {
			break
		}
	}
	if !fresh && err == nil && len(res.Created) > 0 {
		// A saved plan is applied as approved, with one exception: the
		// records its on_create rules made did not exist at plan time, so
		// their own mirrors (the welcome task's copy in the other system)
		// could not be planned. Those, and only those, follow here.
		var more apply.Result
		more, err = ws.applyConsequences(ctx, p, res.Created, aopts)
		for k, v := range more.Counts {
			res.Counts[k] += v
		}
		res.Errors = append(res.Errors, more.Errors...)
	}
	if err == nil && ctx.Err() != nil {
		// Stopped between rounds: what was applied is recorded, but the
		// apply did not finish its work.
		err = ctx.Err()
	}
	ws.finishRun(ctx, run, res, err)
	res.RunID = runID
	if fresh && err == nil && len(res.Errors) == 0 && p.Complete {
		// The next incremental pass can start from here.
		for _, b := range ws.bindings {
			ws.setCursors(ctx, b, start)
		}
	}
	return p, res, err
}

// applyConsequences plans afresh and applies only the changes that touch a
// record in created, appending them to p so the caller reports them.
func (ws *Workspace) applyConsequences(ctx context.Context, p *plan.Plan, created []string, aopts apply.Options) (apply.Result, error) {
	ids := make(map[string]bool, len(created))
	for _, id := range created {
		ids[id] = true
	}
	next, err := ws.Plan(ctx)
	if err != nil || !next.Complete {
		// The saved plan itself is applied; the next plan shows the rest.
		return apply.Result{}, nil
	}
	follow := &plan.Plan{Complete: true, ConfigHash: next.ConfigHash}
	for _, ch := range next.Changes {
		if ch.Action.Writes() && ch.Action != plan.Delete && ch.Action != plan.Suspend && (ids[ch.Source.ID] || ids[ch.Target.ID]) {
			follow.Changes = append(follow.Changes, ch)
		}
	}
	if len(follow.Changes) == 0 {
		return apply.Result{}, nil
	}
	aopts.Linked, aopts.CheckStale, aopts.Current = nil, false, nil
	res, err := apply.Apply(ctx, follow, aopts)
	p.Changes = append(p.Changes, follow.Changes...)
	return res, err
}

// maxRounds bounds how often one apply re-plans its own consequences.
const maxRounds = 3

func (ws *Workspace) finishRun(ctx context.Context, run state.Run, res apply.Result, err error) {
	run.EndedAt = ws.now().UTC()
	run.Counts = map[string]int{}
	for k, v := range res.Counts {
		run.Counts[string(k)] = v
	}
	run.Errors = res.Errors
	run.Status = "ok"
	if err != nil {
		run.Errors = append(run.Errors, err.Error())
	}
	if err != nil || len(res.Errors) > 0 {
		run.Status = "failed"
	}
	if errors.Is(err, context.Canceled) {
		run.Status = "interrupted"
	}
	_ = ws.Store.FinishRun(context.WithoutCancel(ctx), run)
	if res.Counts[apply.Applied]+res.Counts[apply.Adopted]+res.Counts[apply.Failed] > 0 || len(res.Created) > 0 {
		// A failed write may have landed, so it counts as one.
		ws.markWritten(ctx, run.ID)
	}
}

func (ws *Workspace) sides() map[string]apply.Sides {
	sides := map[string]apply.Sides{}
	for _, b := range ws.bindings {
		sides[b.sync.Name] = apply.Sides{Source: b.source, Target: b.target}
	}
	return sides
}

// recover settles interrupted writes and returns, per sync, the source ids
// that have links afterwards.
func (ws *Workspace) recover(ctx context.Context) (map[string]map[string]bool, error) {
	linked := map[string]map[string]bool{}
	sides := ws.sides()
	for _, b := range ws.bindings {
		rec, err := apply.Recover(ctx, ws.Store, b.sync.Name, sides[b.sync.Name], binder{ws})
		if err != nil {
			return nil, err
		}
		for _, r := range rec {
			ws.log.Info("settled interrupted write", "sync", b.sync.Name, "key", r.Op.Key, "action", r.Op.Action, "record", r.RecordID, "err", r.Err)
		}
		links, err := ws.Store.Links(ctx, b.sync.Name)
		if err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		linked[b.sync.Name] = map[string]bool{}
		for _, l := range links {
			linked[b.sync.Name][l.SourceID] = true
		}
	}
	return linked, nil
}

// binder gives the executor the config's expressions.
type binder struct{ ws *Workspace }

func (b binder) binding(name string) (*binding, error) {
	for _, bd := range b.ws.bindings {
		if bd.sync.Name == name {
			return bd, nil
		}
	}
	return nil, fmt.Errorf("sync %q is not in the config", name)
}

func (b binder) Rebase(sync string, src, tgt providers.Record) ([]byte, []byte, error) {
	bd, err := b.binding(sync)
	if err != nil {
		return nil, nil, err
	}
	return diff.Rebase(bd.input, src, tgt)
}

func (b binder) FollowUp(sync string, i int, src, tgt providers.Record) (providers.Resource, map[string]cty.Value, error) {
	bd, err := b.binding(sync)
	if err != nil {
		return nil, nil, err
	}
	r, fields, err := diff.FollowUp(bd.input, i, src, tgt)
	return r.Resource, fields, err
}

// settleRuns marks runs still "running" as interrupted. Called with the
// lock held, so no other process can be running them: their process died.
func (ws *Workspace) settleRuns(ctx context.Context) {
	runs, err := ws.Store.Runs(ctx, 50)
	if err != nil {
		return
	}
	marked := false // runs come newest first, and the newest is the one to record
	for _, r := range runs {
		if r.Status == "running" {
			r.Status = "interrupted"
			if r.EndedAt.IsZero() {
				r.EndedAt = ws.now().UTC()
			}
			r.Errors = append(r.Errors, "the process stopped before the run finished; its writes were settled by the next run")
			_ = ws.Store.FinishRun(ctx, r)
			if !marked {
				ws.markWritten(ctx, r.ID)
				marked = true
			}
		}
	}
}

// dropFired removes from the plan the on_create rules that already fired
// for a record (it was linked before and re-created), so the plan shows
// only what apply will do.
func (ws *Workspace) dropFired(ctx context.Context, changes []plan.Change) {
	for i := range changes {
		ch := &changes[i]
		if len(ch.FollowUps) == 0 {
			continue
		}
		kept := ch.FollowUps[:0]
		for _, fu := range ch.FollowUps {
			if fired, err := ws.Store.Fired(ctx, fu.Rule, ch.Source.ID); err == nil && fired {
				continue
			}
			kept = append(kept, fu)
		}
		ch.FollowUps = kept
	}
}
