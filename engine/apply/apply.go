// Package apply carries out a plan: it writes each change through the
// provider contract, journalling the intent before the write and the
// outcome after it, and records links with their base snapshots so the next
// plan knows what both sides held when they were last in step.
//
// The journal is what makes a killed apply safe to rerun: a create whose
// outcome was never recorded is first looked up (by the provider's Finder,
// with the values it was about to write) and adopted if it exists, so a
// rerun never makes a second record. One failed record never stops the
// others; every failure is reported with the record it concerns.
//
// Syncs are applied in the plan's order, parents first, so a task whose
// contact is created in the same run finds its parent's new id.
package apply

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Binder evaluates a sync's config expressions for the executor, which
// knows records but not HCL.
type Binder interface {
	// Rebase computes the bases to store with a link of sync.
	Rebase(sync string, src, tgt providers.Record) (srcBase, tgtBase []byte, err error)
	// FollowUp evaluates on_create rule i of sync for a new record.
	FollowUp(sync string, i int, src, tgt providers.Record) (providers.Resource, map[string]cty.Value, error)
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
	// NotAttempted means the apply stopped before reaching the change,
	// because the API kept failing (see Options.StopAfter).
	NotAttempted Outcome = "not attempted"
)

// defaultStopAfter is how many writes in a row may fail on a transient
// error (the API is down or unreachable) before the apply stops instead
// of retrying every remaining record.
const defaultStopAfter = 10

// Options tune an apply.
type Options struct {
	RunID string
	// Sides maps a sync name to its resources.
	Sides  map[string]Sides
	Store  state.Store
	Binder Binder
	Hooks  Hooks
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
	// AllowMassDelete lets a plan blocked by max_deletes be applied.
	AllowMassDelete bool
	// StopAfter is the number of consecutive transient failures after
	// which the rest of the plan is not attempted; 0 means 10.
	StopAfter int
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
	// Created holds the ids of records that on_create rules made. They
	// are not in the plan, yet other syncs may have work for them (a
	// welcome task to mirror).
	Created []string
	// Failed holds the ChangeKey of every change that failed, so a caller
	// that plans again in the same apply does not try them twice.
	Failed map[string]bool
	// RunID is the run history entry the apply was recorded under, when
	// the caller keeps one.
	RunID string
}

// ChangeKey identifies a change by its sync, action and records, across
// plans made moments apart.
func ChangeKey(ch plan.Change) string {
	return strings.Join([]string{ch.Sync, ch.Action.String(), string(ch.Side), ch.Source.ID, ch.Target.ID, ch.Source.ParentID, ch.Target.ParentID}, "\x00")
}

// Apply writes the plan's changes. It returns an error only when it could
// not run at all; per-record failures are in the result.
func Apply(ctx context.Context, p *plan.Plan, opts Options) (Result, error) {
	if !p.Complete {
		return Result{}, errors.New("the plan is incomplete (a listing failed); make a new plan")
	}
	if len(p.Blocked) > 0 && !opts.AllowMassDelete {
		return Result{}, fmt.Errorf("the plan is blocked: %s; pass -allow-mass-delete if this is intended", strings.Join(p.Blocked, "; "))
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
	// Group writes by sync, keeping the plan's (dependency) order.
	var order []string
	groups := map[string][]plan.Change{}
	total := 0
	for _, ch := range p.Changes {
		if !ch.Action.Writes() {
			continue
		}
		if _, ok := groups[ch.Sync]; !ok {
			order = append(order, ch.Sync)
		}
		groups[ch.Sync] = append(groups[ch.Sync], ch)
		total++
	}
	opts.Hooks.Started(total)
	if opts.StopAfter <= 0 {
		opts.StopAfter = defaultStopAfter
	}
	x := &executor{opts: opts, parents: map[string]*parentLinks{}}
	res := Result{Counts: map[Outcome]int{}, Failed: map[string]bool{}}
	// A write in flight when ctx ends (Ctrl-C, SIGTERM) is finished, with
	// its journal entry, link and once-only firing, rather than cut off
	// between landing and being recorded; only if it hangs past the grace
	// period is it cut off, and then the journal settles it next run.
	wctx, stopWrites := graceful(ctx, writeGrace)
	defer stopWrites()
	var mu sync.Mutex
	for _, name := range order {
		jobs := make(chan plan.Change)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ch := range jobs {
					out, err := NotAttempted, error(nil)
					if !x.stopped() && ctx.Err() == nil {
						out, err = x.applyOne(wctx, ch)
						x.note(err)
					}
					mu.Lock()
					res.Counts[out]++
					if err != nil {
						res.Errors = append(res.Errors, fmt.Sprintf("sync.%s %s %s: %v", ch.Sync, ch.Action, describe(ch), err))
						res.Failed[ChangeKey(ch)] = true
					}
					mu.Unlock()
					opts.Hooks.Done(ch, out, err)
				}
			}()
		}
		for i, ch := range groups[name] {
			if ctx.Err() != nil {
				mu.Lock()
				res.Counts[NotAttempted] += len(groups[name]) - i
				mu.Unlock()
				break
			}
			jobs <- ch
		}
		close(jobs)
		wg.Wait()
		if ctx.Err() != nil {
			break
		}
	}
	if last := x.stopReason(); last != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("stopped after %d writes in a row failed to reach the API (%d changes not attempted; run apply again once it answers): %v",
			opts.StopAfter, res.Counts[NotAttempted], last))
	}
	x.mu.Lock()
	res.Created = x.created
	x.mu.Unlock()
	return res, ctx.Err()
}

// writeGrace is how long writes in flight may take to finish after the
// apply was told to stop.
const writeGrace = 30 * time.Second

// graceful returns a context that keeps ctx's values but ends only grace
// after ctx does, and a function to release it.
func graceful(ctx context.Context, grace time.Duration) (context.Context, func()) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() {
		stop()
		cancel()
	}
}

// note counts consecutive transient failures; a success resets the count.
func (x *executor) note(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case err == nil:
		x.failures = 0
	case providers.Retryable(err):
		x.failures++
		x.lastErr = err
	}
}

func (x *executor) stopped() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.failures >= x.opts.StopAfter
}

func (x *executor) stopReason() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.failures >= x.opts.StopAfter {
		return x.lastErr
	}
	return nil
}

func describe(ch plan.Change) string {
	r := ch.Source
	if ch.Side == plan.SideSource || r.ID == "" {
		r = ch.Target
	}
	s := r.String()
	if ch.Label != "" {
		s += " (" + ch.Label + ")"
	}
	return s
}

type executor struct {
	opts Options

	// mu guards parents, failures, lastErr and created.
	mu       sync.Mutex
	parents  map[string]*parentLinks
	failures int
	lastErr  error
	created  []string
}

type parentLinks struct {
	bySource, byTarget map[string]string
}

// parent resolves a child change's wait: the other end of the parent
// sync's link, which an earlier group of this apply created.
func (x *executor) parent(ctx context.Context, w *plan.ParentWait) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	look := func(pl *parentLinks) (string, bool) {
		if w.By == plan.SideTarget {
			id, ok := pl.byTarget[w.ID]
			return id, ok
		}
		id, ok := pl.bySource[w.ID]
		return id, ok
	}
	if pl, ok := x.parents[w.Sync]; ok {
		if id, ok := look(pl); ok {
			return id, nil
		}
	}
	links, err := x.opts.Store.Links(ctx, w.Sync)
	if err != nil {
		return "", fmt.Errorf("read links of sync %q: %w", w.Sync, err)
	}
	pl := &parentLinks{bySource: map[string]string{}, byTarget: map[string]string{}}
	for _, l := range links {
		pl.bySource[l.SourceID] = l.TargetID
		pl.byTarget[l.TargetID] = l.SourceID
	}
	x.parents[w.Sync] = pl
	if id, ok := look(pl); ok {
		return id, nil
	}
	return "", fmt.Errorf("its parent (%s %s in sync %q) was not synced, so it waits for the next run", w.By, w.ID, w.Sync)
}

func (x *executor) applyOne(ctx context.Context, ch plan.Change) (Outcome, error) {
	sides, ok := x.opts.Sides[ch.Sync]
	if !ok {
		return Failed, fmt.Errorf("sync %q is not in the config", ch.Sync)
	}
	if x.opts.CheckStale {
		if moved, err := stale(ctx, ch, sides, x.opts.Current); err != nil {
			return Failed, err
		} else if moved {
			return Stale, nil
		}
	}
	if ch.Await != nil {
		id, err := x.parent(ctx, ch.Await)
		if err != nil {
			return Failed, err
		}
		if ch.Side == plan.SideSource {
			ch.Source.ParentID = id
		} else {
			ch.Target.ParentID = id
		}
	}
	switch ch.Action {
	case plan.Create:
		return x.create(ctx, ch, sides)
	case plan.Update, plan.Link:
		return x.update(ctx, ch, sides)
	case plan.Suspend, plan.Delete:
		return x.remove(ctx, ch, sides)
	}
	return Failed, fmt.Errorf("action %s is not supported by this version", ch.Action)
}

// stale reports whether the records a saved plan was made from moved.
func stale(ctx context.Context, ch plan.Change, sides Sides, current map[string]Digests) (bool, error) {
	if d, ok := current[ch.Sync]; ok {
		if ch.SourceSnapshot != "" && ch.Source.ID != "" && d.Source[ch.Source.ID] != ch.SourceSnapshot {
			return true, nil
		}
		return ch.Snapshot != "" && ch.Target.ID != "" && d.Target[ch.Target.ID] != ch.Snapshot, nil
	}
	if ch.SourceSnapshot != "" && ch.Source.ID != "" {
		src, err := sides.Source.Get(ctx, ch.Source.ParentID, ch.Source.ID)
		if errors.Is(err, providers.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("re-read source: %w", err)
		}
		if diff.Digest(sides.Source.Schema(), src) != ch.SourceSnapshot {
			return true, nil
		}
	}
	if ch.Snapshot == "" || ch.Target.ID == "" {
		return false, nil
	}
	tgt, err := sides.Target.Get(ctx, ch.Target.ParentID, ch.Target.ID)
	if errors.Is(err, providers.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("re-read target: %w", err)
	}
	return diff.Digest(sides.Target.Schema(), tgt) != ch.Snapshot, nil
}

func fieldMap(fields []plan.FieldChange) map[string]cty.Value {
	m := make(map[string]cty.Value, len(fields))
	for _, f := range fields {
		m[f.Field] = f.New
	}
	return m
}

func (x *executor) create(ctx context.Context, ch plan.Change, sides Sides) (Outcome, error) {
	opts := x.opts
	written := sides.Target
	parent, key := ch.Target.ParentID, ch.Source.ID
	if ch.Side == plan.SideSource {
		written = sides.Source
		parent, key = ch.Source.ParentID, ch.Target.ID
	}
	if ch.Side == plan.SideTarget && opts.Linked[ch.Sync][ch.Source.ID] {
		// Recovery of an interrupted apply already linked this record.
		return Stale, nil
	}
	fields := fieldMap(ch.Fields)
	intent, err := encodeIntent(parent, fields)
	if err != nil {
		return Failed, fmt.Errorf("journal: %w", err)
	}
	opID, err := opts.Store.BeginOp(ctx, state.Op{RunID: opts.RunID, Sync: ch.Sync, Action: "create", Side: string(ch.Side),
		Key: key, Intent: intent, StartedAt: opts.Now()})
	if err != nil {
		return Failed, fmt.Errorf("journal: %w", err)
	}
	rec, err := written.Create(ctx, parent, fields)
	outcome := Applied
	if err != nil {
		found, ferr := recoverCreate(ctx, written, parent, fields, err)
		if ferr != nil {
			x.finish(ctx, opID, state.OpFailed, "", ferr)
			return Failed, ferr
		}
		rec, outcome = found, Adopted
		if other, err := x.linkedElsewhere(ctx, ch, rec.ID); err != nil || other != "" {
			if err == nil {
				err = fmt.Errorf("the API says the record exists as %s, which is already linked to %s, so bellsync will not adopt it (two records claim one identity; resolve the duplicate)", rec.ID, other)
			}
			x.finish(ctx, opID, state.OpFailed, "", err)
			return Failed, err
		}
		// The existing record may differ from what we meant to write.
		if changes := pending(ch.Fields, rec, written.Schema()); len(changes) > 0 {
			updated, err := written.Update(ctx, rec.ParentID, rec.ID, changes)
			if err != nil {
				x.finish(ctx, opID, state.OpFailed, rec.ID, err)
				return Failed, fmt.Errorf("update adopted record %s: %w", rec.ID, err)
			}
			rec = updated
		}
	}
	if rec.ParentID == "" {
		rec.ParentID = parent
	}
	src, tgt := diff.RecordFrom(sides.Source.Schema(), ch.Extra["source"]), rec
	if ch.Side == plan.SideSource {
		src, tgt = rec, diff.RecordFrom(sides.Target.Schema(), ch.Extra["target"])
		tgt.ID, tgt.ParentID = ch.Target.ID, ch.Target.ParentID
	} else {
		src.ID, src.ParentID = ch.Source.ID, ch.Source.ParentID
	}
	link := x.link
	if outcome == Adopted {
		// An adopted record was never compared field by field with its new
		// counterpart: link it without a base, so the next plan diffs the
		// pair as a new link instead of taking it as in step.
		link = x.linkUnbased
	}
	if err := link(ctx, ch.Sync, src, tgt); err != nil {
		// The record exists but the state does not say so. The op stays
		// pending, so the next run's recovery finds the record and links
		// it; marking it failed would have the next plan create it again.
		return Failed, fmt.Errorf("record %s was created, but %w; the next run links it", rec.ID, err)
	}
	// The create stays pending in the journal until its on_create rules
	// have fired: a process killed in between leaves a pending create,
	// whose recovery links the record and fires the rules (once each), so
	// a new client never ends up without its welcome task.
	ferr := x.followUps(ctx, ch, src, tgt)
	x.finish(ctx, opID, state.OpDone, rec.ID, nil)
	if ferr != nil {
		return Failed, fmt.Errorf("record created and linked, but %w", ferr)
	}
	return outcome, nil
}

// followUps fires the on_create rules of a new record, each at most once
// per source record, ever: the firing is recorded in state, so a rerun, a
// crash or a later re-link never makes a second welcome task.
func (x *executor) followUps(ctx context.Context, ch plan.Change, src, tgt providers.Record) error {
	for _, fu := range ch.FollowUps {
		i, err := ruleIndex(fu.Rule)
		if err != nil {
			return err
		}
		if err := x.fire(ctx, ch.Sync, i, fu.Rule, src, tgt); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) fire(ctx context.Context, syncName string, i int, rule string, src, tgt providers.Record) error {
	opts := x.opts
	fired, err := opts.Store.Fired(ctx, rule, src.ID)
	if err != nil || fired {
		return err
	}
	res, fields, err := opts.Binder.FollowUp(syncName, i, src, tgt)
	if err != nil {
		return fmt.Errorf("on_create %s: %w", rule, err)
	}
	intent, err := encodeIntent(tgt.ID, fields)
	if err != nil {
		return err
	}
	opID, err := opts.Store.BeginOp(ctx, state.Op{RunID: opts.RunID, Sync: syncName, Action: "on_create/" + strconv.Itoa(i),
		Side: string(plan.SideTarget), Key: src.ID, Intent: intent, StartedAt: opts.Now()})
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	rec, err := res.Create(ctx, tgt.ID, fields)
	if err != nil {
		found, ferr := findChild(ctx, res, tgt.ID, fields)
		if ferr != nil || found == nil {
			// No plan would fire the rule again (the record is linked
			// now), so the op stays pending and the next run's recovery
			// looks for the record and fires the rule if it is missing.
			return fmt.Errorf("on_create %s: %w; the next run tries again", rule, err)
		}
		rec = *found
	}
	if _, err := opts.Store.MarkFired(ctx, rule, src.ID, rec.ID); err != nil {
		// As for a create whose link could not be recorded: the op stays
		// pending, and recovery marks the rule fired, never firing it again.
		return fmt.Errorf("on_create %s made %s, but %w; the next run records it", rule, rec.ID, err)
	}
	x.finish(ctx, opID, state.OpDone, rec.ID, nil)
	x.mu.Lock()
	x.created = append(x.created, rec.ID)
	x.mu.Unlock()
	return nil
}

func ruleIndex(rule string) (int, error) {
	_, n, ok := strings.Cut(rule, "/on_create/")
	if !ok {
		return 0, fmt.Errorf("malformed rule id %q", rule)
	}
	return strconv.Atoi(n)
}

// recoverCreate decides what a failed create means. A duplicate answer
// names the record to adopt; a write that may have landed is looked up by
// the values it carried. Anything else is a real failure.
func recoverCreate(ctx context.Context, target providers.Resource, parent string, fields map[string]cty.Value, cerr error) (providers.Record, error) {
	if pe, ok := providers.AsError(cerr); ok && errors.Is(cerr, providers.ErrDuplicate) && pe.ExistingID != "" {
		rec, err := target.Get(ctx, parent, pe.ExistingID)
		if err != nil {
			return providers.Record{}, fmt.Errorf("%w; reading the existing record %s: %v", cerr, pe.ExistingID, err)
		}
		return rec, nil
	}
	if !providers.MaybeApplied(cerr) && !errors.Is(cerr, providers.ErrDuplicate) {
		return providers.Record{}, cerr
	}
	rec, err := find(ctx, target, parent, fields)
	if err != nil {
		return providers.Record{}, fmt.Errorf("%w; looking the record up afterwards: %v", cerr, err)
	}
	if rec == nil {
		return providers.Record{}, cerr
	}
	return *rec, nil
}

// find looks a record up by the values a create carried; nil when absent.
// Kinds without a Finder that live under a parent are looked up among the
// parent's children.
func find(ctx context.Context, target providers.Resource, parentID string, fields map[string]cty.Value) (*providers.Record, error) {
	finder, ok := target.(providers.Finder)
	if !ok {
		if parentID != "" {
			return findChild(ctx, target, parentID, fields)
		}
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

// findChild finds the one child of parent whose string fields all equal
// the ones a create carried (a welcome task by its title, a note by its
// text).
func findChild(ctx context.Context, r providers.Resource, parent string, fields map[string]cty.Value) (*providers.Record, error) {
	s := r.Schema()
	var hits []providers.Record
	err := r.List(ctx, providers.ListOptions{ParentID: parent}, func(rec providers.Record) error {
		for name, v := range fields {
			f, ok := s.Field(name)
			if !ok || f.Type != cty.String || v.IsNull() {
				continue
			}
			if !diff.Equal(f, rec.Fields[name], v) {
				return nil
			}
		}
		hits = append(hits, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(hits) {
	case 0:
		return nil, nil
	case 1:
		return &hits[0], nil
	}
	return nil, fmt.Errorf("%d records match; not guessing", len(hits))
}

// pending lists the planned fields a record does not hold yet.
func pending(fields []plan.FieldChange, rec providers.Record, s providers.Schema) []providers.Change {
	var out []providers.Change
	for _, f := range fields {
		sf, _ := s.Field(f.Field)
		if diff.Equal(sf, rec.Fields[f.Field], f.New) {
			continue
		}
		out = append(out, providers.Change{Field: f.Field, Old: rec.Fields[f.Field], New: f.New})
	}
	return out
}

// write journals and makes one update; it returns the echoed record.
func (x *executor) write(ctx context.Context, ch plan.Change, r providers.Resource, side plan.Side, parent, id string, fields []plan.FieldChange) (providers.Record, error) {
	var changes []providers.Change
	for _, f := range fields {
		changes = append(changes, providers.Change{Field: f.Field, Old: f.Old, New: f.New})
	}
	intent, err := encodeIntent(parent, fieldMap(fields))
	if err != nil {
		return providers.Record{}, err
	}
	opID, err := x.opts.Store.BeginOp(ctx, state.Op{RunID: x.opts.RunID, Sync: ch.Sync, Action: ch.Action.String(),
		Side: string(side), Key: ch.Source.ID, RecordID: id, Intent: intent, StartedAt: x.opts.Now()})
	if err != nil {
		return providers.Record{}, fmt.Errorf("journal: %w", err)
	}
	rec, err := r.Update(ctx, parent, id, changes)
	if err != nil {
		x.finish(ctx, opID, state.OpFailed, id, err)
		return providers.Record{}, err
	}
	x.finish(ctx, opID, state.OpDone, id, nil)
	if rec.ParentID == "" {
		rec.ParentID = parent
	}
	return rec, nil
}

func (x *executor) update(ctx context.Context, ch plan.Change, sides Sides) (Outcome, error) {
	src := diff.RecordFrom(sides.Source.Schema(), ch.Extra["source"])
	tgt := diff.RecordFrom(sides.Target.Schema(), ch.Extra["target"])
	src.ID, src.ParentID = ch.Source.ID, ch.Source.ParentID
	tgt.ID, tgt.ParentID = ch.Target.ID, ch.Target.ParentID
	var err error
	if len(ch.Fields) > 0 {
		if tgt, err = x.write(ctx, ch, sides.Target, plan.SideTarget, ch.Target.ParentID, ch.Target.ID, ch.Fields); err != nil {
			return Failed, err
		}
	}
	if len(ch.Reverse) > 0 {
		if src, err = x.write(ctx, ch, sides.Source, plan.SideSource, ch.Source.ParentID, ch.Source.ID, ch.Reverse); err != nil {
			return Failed, err
		}
	}
	if err := x.link(ctx, ch.Sync, src, tgt); err != nil {
		return Failed, err
	}
	return Applied, nil
}

// remove carries out a delete policy on the surviving record of a link.
func (x *executor) remove(ctx context.Context, ch plan.Change, sides Sides) (Outcome, error) {
	r, parent, id := sides.Target, ch.Target.ParentID, ch.Target.ID
	if ch.Side == plan.SideSource {
		r, parent, id = sides.Source, ch.Source.ParentID, ch.Source.ID
	}
	status := state.LinkSuspended
	if ch.Action == plan.Delete {
		status = state.LinkDeleted
		opID, err := x.opts.Store.BeginOp(ctx, state.Op{RunID: x.opts.RunID, Sync: ch.Sync, Action: "delete",
			Side: string(ch.Side), Key: ch.Source.ID, RecordID: id, StartedAt: x.opts.Now()})
		if err != nil {
			return Failed, fmt.Errorf("journal: %w", err)
		}
		if err := r.Delete(ctx, parent, id); err != nil && !errors.Is(err, providers.ErrNotFound) {
			x.finish(ctx, opID, state.OpFailed, id, err)
			return Failed, err
		}
		x.finish(ctx, opID, state.OpDone, id, nil)
	} else if len(ch.Fields) > 0 {
		if _, err := x.write(ctx, ch, r, ch.Side, parent, id, ch.Fields); err != nil {
			return Failed, err
		}
	}
	now := x.opts.Now()
	l := state.Link{Sync: ch.Sync, SourceID: ch.Source.ID, TargetID: ch.Target.ID, SourceParent: ch.Source.ParentID,
		TargetParent: ch.Target.ParentID, Status: status, CreatedAt: now, UpdatedAt: now}
	if err := x.opts.Store.PutLink(ctx, l); err != nil {
		return Failed, fmt.Errorf("record link status %s: %w", status, err)
	}
	return Applied, nil
}

// linkedElsewhere reports the record an adopted record is already linked
// to in this sync, if any.
func (x *executor) linkedElsewhere(ctx context.Context, ch plan.Change, id string) (string, error) {
	links, err := x.opts.Store.Links(ctx, ch.Sync)
	if err != nil {
		return "", fmt.Errorf("read links: %w", err)
	}
	for _, l := range links {
		if ch.Side == plan.SideSource && l.SourceID == id && l.TargetID != ch.Target.ID {
			return l.TargetID, nil
		}
		if ch.Side != plan.SideSource && l.TargetID == id && l.SourceID != ch.Source.ID {
			return l.SourceID, nil
		}
	}
	return "", nil
}

// link records the pairing with bases computed from both final records.
func (x *executor) link(ctx context.Context, syncName string, src, tgt providers.Record) error {
	return x.putLink(ctx, syncName, src, tgt, true)
}

// linkUnbased records a pairing with no base.
func (x *executor) linkUnbased(ctx context.Context, syncName string, src, tgt providers.Record) error {
	return x.putLink(ctx, syncName, src, tgt, false)
}

func (x *executor) putLink(ctx context.Context, syncName string, src, tgt providers.Record, based bool) error {
	if src.ID == "" || tgt.ID == "" {
		// One side is known only from an event that carried no id: the
		// copy is made, but there is nothing to link it to yet; the next
		// full pass matches the two by their keys.
		return nil
	}
	var srcBase, tgtBase []byte
	if based {
		var err error
		if srcBase, tgtBase, err = x.opts.Binder.Rebase(syncName, src, tgt); err != nil {
			return err
		}
	}
	now := x.opts.Now()
	l := state.Link{Sync: syncName, SourceID: src.ID, TargetID: tgt.ID, SourceParent: src.ParentID,
		TargetParent: tgt.ParentID, SourceBase: srcBase, TargetBase: tgtBase, Status: state.LinkActive, CreatedAt: now, UpdatedAt: now}
	if err := x.opts.Store.PutLink(ctx, l); err != nil {
		return fmt.Errorf("record link %s -> %s: %w", src.ID, tgt.ID, err)
	}
	return nil
}

func (x *executor) finish(ctx context.Context, id int64, status, recordID string, err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	// A journal write that fails here leaves the op pending, which the
	// next run's recovery handles; the write itself already happened.
	_ = x.opts.Store.FinishOp(context.WithoutCancel(ctx), id, status, recordID, text)
}

// The journal intent is the written fields plus the parent id, so
// recovery can look the record up where it would be.
func encodeIntent(parent string, fields map[string]cty.Value) ([]byte, error) {
	m := make(map[string]cty.Value, len(fields)+1)
	for k, v := range fields {
		m[k] = v
	}
	m[intentParent] = cty.StringVal(parent)
	return plan.EncodeValues(m)
}

func decodeIntent(b []byte) (string, map[string]cty.Value, error) {
	m, err := plan.DecodeValues(b)
	if err != nil {
		return "", nil, err
	}
	parent := ""
	if v, ok := m[intentParent]; ok && !v.IsNull() && v.Type() == cty.String {
		parent = v.AsString()
	}
	delete(m, intentParent)
	return parent, m, nil
}

const intentParent = "\x00parent"
