package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// cursorLag is how far behind "now" an incremental cursor is kept: GHL's
// search index shows writes only after a few seconds, so a pass re-reads
// the last minutes rather than miss a record that became visible late.
// Re-reading is harmless; the diff finds nothing to do for it.
const cursorLag = 2 * time.Minute

var _ schedule.Reconciler = (*Workspace)(nil)

// Pass reconciles every sync. A full pass is plan and apply over complete
// listings (the only pass that infers deletes). An incremental pass reads
// what changed since each sync's saved cursor and the counterparts of
// those records, so its cost grows with the number of changes; it advances
// the cursors only when it succeeded.
func (ws *Workspace) Pass(ctx context.Context, kind schedule.PassKind) (schedule.Result, error) {
	start := ws.now().UTC()
	if kind == schedule.Full {
		p, res, err := ws.Apply(ctx, nil, ApplyOptions{Kind: string(schedule.Full), LockWait: true, Unattended: true})
		out := result(string(schedule.Full), start, ws.now(), res)
		out.RunID, out.Skipped = res.RunID, skipped(p)
		return out, classify(err)
	}
	return ws.incremental(ctx, start, nil)
}

// Record reconciles the one record a webhook names, and the records that
// hang off it, in a handful of API calls.
func (ws *Workspace) Record(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
	return ws.incremental(ctx, ws.now().UTC(), &h)
}

// classify marks errors that retrying cannot fix, so the daemon stops
// asking: a revoked grant or rejected credential (providers.ErrAuth), a
// config bug.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, providers.ErrAuth), errors.Is(err, providers.ErrTerminal),
		errors.Is(err, ErrConfigChanged):
		return schedule.Terminal(err)
	}
	return err
}

func result(kind string, start, end time.Time, res apply.Result) schedule.Result {
	out := schedule.Result{Kind: kind, Counts: map[string]int{}, Errors: res.Errors, Started: start, Ended: end}
	for k, v := range res.Counts {
		out.Counts[string(k)] = v
	}
	return out
}

// skipped lists a plan's records left alone, with their problem.
func skipped(p *plan.Plan) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, ch := range p.Changes {
		if ch.Action == plan.Skip {
			who := ch.Label
			if who == "" {
				who = ch.Source.ID + ch.Target.ID
			}
			out = append(out, fmt.Sprintf("sync.%s %s: %s", ch.Sync, who, ch.Problem))
		}
	}
	return out
}

func cursorName(b *binding, side string) string { return "sync/" + b.sync.Name + "/" + side }

func (ws *Workspace) setCursors(ctx context.Context, b *binding, at time.Time) {
	v := at.Format(time.RFC3339Nano)
	_ = ws.Store.SetCursor(ctx, cursorName(b, "source"), v)
	_ = ws.Store.SetCursor(ctx, cursorName(b, "target"), v)
}

// since returns where an incremental read of one side starts, or zero
// (read everything) when there is no cursor yet.
func (ws *Workspace) since(ctx context.Context, b *binding, side string) (time.Time, error) {
	v, err := ws.Store.Cursor(ctx, cursorName(b, side))
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return time.Time{}, err
	}
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("cursor %s: %w", cursorName(b, side), err)
	}
	return t.Add(-cursorLag), nil
}

// incremental runs one partial reconcile: of what changed since the
// cursors (h == nil), or of the record a hint names.
func (ws *Workspace) incremental(ctx context.Context, start time.Time, h *schedule.Hint) (schedule.Result, error) {
	kind := string(schedule.Incremental)
	if h != nil {
		kind = "webhook"
	}
	unlock, err := ws.Store.Lock(ctx, "apply", true)
	if err != nil {
		return schedule.Result{Kind: kind, Started: start}, err
	}
	defer unlock()
	ws.settleRuns(ctx)
	runID := fmt.Sprintf("%s-%d-%s", start.Format("20060102T150405.000"), os.Getpid(), kind)
	run := state.Run{ID: runID, Kind: kind, StartedAt: start, Status: "running"}
	_ = ws.Store.StartRun(ctx, run)
	linked, err := ws.recover(ctx)
	if err != nil {
		ws.finishRun(ctx, run, apply.Result{}, err)
		return schedule.Result{Kind: kind, Started: start}, err
	}

	p := &plan.Plan{ConfigHash: ws.Config.Hash, ConfigFile: ws.Config.Filename, CreatedAt: start,
		Unchanged: map[string]int{}, Complete: true}
	touched := map[string]*touchedSet{} // per sync: records read this pass
	var readErr error
	gone := map[string]diff.Gone{}
	for _, b := range ws.bindings {
		in, err := ws.input(ctx, b, p, gone[b.sync.Parent])
		if err != nil {
			readErr = err
			break
		}
		part, err := ws.partialRead(ctx, b, in, h, touched)
		if err != nil {
			readErr = fmt.Errorf("sync %q: %w", b.sync.Name, err)
			break
		}
		if part == nil {
			continue
		}
		in.Records = part
		res, err := diff.Plan(ctx, in)
		if err != nil {
			readErr = err
			break
		}
		p.Changes = append(p.Changes, res.Changes...)
		p.Unchanged[b.sync.Name] = res.Unchanged
		gone[b.sync.Name] = res.Gone
		guardDeletes(p, b, res, recentDeletes(in.Links, ws.now().Add(-deleteWindow)))
		touched[b.sync.Name] = changedParents(res.Changes, h)
	}
	if readErr != nil {
		ws.finishRun(ctx, run, apply.Result{}, readErr)
		return schedule.Result{Kind: kind, Started: start, Ended: ws.now()}, classify(readErr)
	}
	held := holdBackDeletes(p)
	res, err := apply.Apply(ctx, p, apply.Options{RunID: runID, Sides: ws.sides(), Store: ws.Store, Binder: binder{ws}, Hooks: apply.LogHooks(ws.log, nil),
		Now: ws.now, Linked: linked})
	res.Errors = append(res.Errors, held...)
	ws.finishRun(ctx, run, res, err)
	out := result(kind, start, ws.now(), res)
	out.RunID, out.Skipped = runID, skipped(p)
	if err != nil {
		return out, classify(err)
	}
	if h == nil && len(res.Errors) == 0 {
		for _, b := range ws.bindings {
			ws.setCursors(ctx, b, start)
		}
	}
	return out, nil
}

// touchedSet records which parents a pass changed, so child syncs read
// only under those. Parents that were merely read (the echo of bellsync's
// own last writes, say) are left out: listing a GHL contact's tasks costs a
// call each, and an unchanged parent has no reason to have new children
// that webhooks and the full pass would not catch.
type touchedSet struct {
	sources, targets map[string]bool
}

func changedParents(changes []plan.Change, h *schedule.Hint) *touchedSet {
	ts := &touchedSet{sources: map[string]bool{}, targets: map[string]bool{}}
	for _, ch := range changes {
		if !ch.Action.Writes() {
			continue
		}
		if ch.Source.ID != "" {
			ts.sources[ch.Source.ID] = true
		}
		if ch.Target.ID != "" {
			ts.targets[ch.Target.ID] = true
		}
	}
	if h != nil && h.ID != "" {
		// A hint about a parent asks for its children to be looked at.
		ts.sources[h.ID] = true
		ts.targets[h.ID] = true
	}
	return ts
}

// partialRead gathers the records one sync diffs in an incremental pass:
// the changed records of each side (or the hinted one) and their linked or
// matching counterparts. nil means the sync has nothing to look at.
func (ws *Workspace) partialRead(ctx context.Context, b *binding, in diff.Input, h *schedule.Hint, touched map[string]*touchedSet) (*diff.Partial, error) {
	sy := b.sync
	part := &diff.Partial{}
	srcSeen, tgtSeen := map[string]bool{}, map[string]bool{}
	addSource := func(r providers.Record) {
		if !srcSeen[r.ID] {
			srcSeen[r.ID] = true
			part.Sources = append(part.Sources, r)
		}
	}
	addTarget := func(r providers.Record) {
		if !tgtSeen[r.ID] {
			tgtSeen[r.ID] = true
			part.Targets = append(part.Targets, r)
		}
	}
	linkBySource, linkByTarget := map[string]state.Link{}, map[string]state.Link{}
	for _, l := range in.Links {
		linkBySource[l.SourceID] = l
		linkByTarget[l.TargetID] = l
	}
	twoWay := sy.Direction == "two_way"

	var changedSrc, changedTgt []providers.Record
	switch {
	case h != nil:
		// A hint names one record of one side, or a parent whose children
		// must be looked at.
		var err error
		changedSrc, changedTgt, err = ws.hinted(ctx, b, in, h, part, linkBySource, linkByTarget, touched)
		if err != nil {
			return nil, err
		}
	case sy.Parent != "":
		var err error
		changedSrc, changedTgt, err = ws.childChanges(ctx, b, in, touched, true)
		if err != nil {
			return nil, err
		}
	default:
		var err error
		if changedSrc, err = ws.changedSince(ctx, b, b.source, "source"); err != nil {
			return nil, err
		}
		if twoWay {
			if changedTgt, err = ws.changedSince(ctx, b, b.target, "target"); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range changedSrc {
		addSource(r)
	}
	for _, r := range changedTgt {
		addTarget(r)
	}
	// Counterparts: the linked record, or the records a lookup by the
	// values it would be given finds (so a match is adopted, not duplicated).
	for _, r := range changedSrc {
		if l, ok := linkBySource[r.ID]; ok {
			if t, err := b.target.Get(ctx, l.TargetParent, l.TargetID); err == nil {
				addTarget(t)
			} else if !errors.Is(err, providers.ErrNotFound) {
				return nil, err
			}
			continue
		}
		cands, err := ws.candidates(ctx, b, in, r, true)
		if err != nil {
			return nil, err
		}
		for _, c := range cands {
			addTarget(c)
		}
	}
	for _, r := range changedTgt {
		if l, ok := linkByTarget[r.ID]; ok {
			if s, err := b.source.Get(ctx, l.SourceParent, l.SourceID); err == nil {
				addSource(s)
			} else if !errors.Is(err, providers.ErrNotFound) {
				return nil, err
			}
			continue
		}
		cands, err := ws.candidates(ctx, b, in, r, false)
		if err != nil {
			return nil, err
		}
		for _, c := range cands {
			addSource(c)
		}
	}
	if len(part.Sources) == 0 && len(part.Targets) == 0 && len(part.GoneSources) == 0 && len(part.GoneTargets) == 0 {
		return nil, nil
	}
	return part, nil
}

// changedSince lists one side's records changed since its cursor, or all
// of them when the kind cannot filter by time or there is no cursor yet.
func (ws *Workspace) changedSince(ctx context.Context, b *binding, r providers.Resource, side string) ([]providers.Record, error) {
	since, err := ws.since(ctx, b, side)
	if err != nil {
		return nil, err
	}
	if !r.Schema().Caps.ChangedSince {
		since = time.Time{}
	}
	var out []providers.Record
	err = r.List(ctx, providers.ListOptions{Since: since}, func(rec providers.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// candidates finds possible counterparts of an unlinked record without a
// full listing, through the other side's Finder. Kinds without one fall
// back to listing (under the record's parent, for child kinds).
func (ws *Workspace) candidates(ctx context.Context, b *binding, in diff.Input, r providers.Record, fromSource bool) ([]providers.Record, error) {
	other := b.target
	if !fromSource {
		other = b.source
	}
	if f, ok := other.(providers.Finder); ok {
		want, err := diff.Desired(in, r, fromSource)
		if err != nil {
			// The record has a problem of its own; the diff will report it.
			return nil, nil
		}
		return f.Find(ctx, "", want)
	}
	var out []providers.Record
	err := other.List(ctx, providers.ListOptions{}, func(rec providers.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// childChanges reads, for a child sync, the children under every parent
// the parent sync changed in this pass, plus, when sinceCursor is set,
// children changed since the cursor where the kind can say so
// account-wide.
func (ws *Workspace) childChanges(ctx context.Context, b *binding, in diff.Input, touched map[string]*touchedSet, sinceCursor bool) ([]providers.Record, []providers.Record, error) {
	pt := touched[b.sync.Parent]
	if pt == nil {
		return nil, nil, nil
	}
	srcParents, tgtParents := pt.sources, pt.targets
	if b.flipped {
		srcParents, tgtParents = pt.targets, pt.sources
	}
	read := func(r providers.Resource, side string, parents map[string]bool) ([]providers.Record, error) {
		var out []providers.Record
		seen := map[string]bool{}
		add := func(rec providers.Record) error {
			if !seen[rec.ID] {
				seen[rec.ID] = true
				out = append(out, rec)
			}
			return nil
		}
		ids := make([]string, 0, len(parents))
		for pid := range parents {
			ids = append(ids, pid)
		}
		if err := diff.ListUnder(ctx, r, ids, add); err != nil {
			return nil, err
		}
		if sinceCursor && r.Schema().Caps.ChangedSince && r.Schema().Caps.ListAll {
			since, err := ws.since(ctx, b, side)
			if err != nil {
				return nil, err
			}
			if !since.IsZero() {
				if err := r.List(ctx, providers.ListOptions{Since: since}, add); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	src, err := read(b.source, "source", srcParents)
	if err != nil {
		return nil, nil, err
	}
	tgt, err := read(b.target, "target", tgtParents)
	if err != nil {
		return nil, nil, err
	}
	return src, tgt, nil
}

// hinted reads the record a webhook names. A delete hint is confirmed by a
// read that finds nothing before the delete policy is applied.
func (ws *Workspace) hinted(ctx context.Context, b *binding, in diff.Input, h *schedule.Hint, part *diff.Partial,
	linkBySource, linkByTarget map[string]state.Link, touched map[string]*touchedSet) ([]providers.Record, []providers.Record, error) {
	sy := b.sync
	onSource := sy.Source.Provider == h.Provider && sy.Source.Kind == h.Kind
	onTarget := sy.Target.Provider == h.Provider && sy.Target.Kind == h.Kind
	if !onSource && !onTarget {
		if sy.Parent != "" {
			// The hint may be about this sync's parent: look at its
			// children, and only at them. Children changed elsewhere are
			// the scheduled passes' business; listing them here would cost
			// every webhook a read of each one since the last pass.
			return ws.childChanges(ctx, b, in, touched, false)
		}
		return nil, nil, nil
	}
	r := b.source
	if !onSource {
		r = b.target
	}
	id := h.ID
	if id == "" && h.Fields != nil {
		// A Zapier event may carry only the client's email; find it.
		if f, ok := r.(providers.Finder); ok {
			if email, _ := h.Fields["email"].(string); email != "" {
				recs, err := f.Find(ctx, "", map[string]cty.Value{"email": cty.StringVal(email)})
				if err != nil {
					return nil, nil, err
				}
				if len(recs) == 1 {
					id = recs[0].ID
				}
			}
		}
	}
	var rec providers.Record
	err := error(&providers.Error{Category: providers.ErrNotFound, Op: "hint"})
	if id != "" {
		rec, err = r.Get(ctx, h.ParentID, id)
	}
	if errors.Is(err, providers.ErrNotFound) && h.Fields != nil && !h.Deleted {
		if r.Schema().Caps.Get {
			// The API can be asked and does not show the record: the
			// event is late, replayed or wrong. Copying its body would
			// make a person in the other system that this one does not
			// have (and, back through that system's webhooks, a second
			// one here).
			ws.log.Warn("ignored an event about a record the API does not show", "provider", h.Provider, "kind", h.Kind,
				"id", h.ID, "looked_up", id != "")
			return nil, nil, nil
		}
		// The kind cannot be read back: the event's fields are all there
		// is. Without an id it can be copied to the other side but not
		// linked.
		rec = recordFromEvent(r.Schema(), h.ID, h.Fields)
		if onSource {
			return []providers.Record{rec}, nil, nil
		}
		return nil, []providers.Record{rec}, nil
	}
	switch {
	case errors.Is(err, providers.ErrNotFound):
		if onSource {
			if l, ok := linkBySource[id]; ok {
				part.GoneSources = append(part.GoneSources, id)
				if t, err := b.target.Get(ctx, l.TargetParent, l.TargetID); err == nil {
					part.Targets = append(part.Targets, t)
				}
			}
		} else if l, ok := linkByTarget[id]; ok {
			part.GoneTargets = append(part.GoneTargets, id)
			if s, err := b.source.Get(ctx, l.SourceParent, l.SourceID); err == nil {
				part.Sources = append(part.Sources, s)
			}
		}
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	if onSource {
		return []providers.Record{rec}, nil, nil
	}
	if sy.Direction != "two_way" {
		// A one-way sync only ever reads its target to compare; the
		// linked source decides.
		if l, ok := linkByTarget[rec.ID]; ok {
			if s, err := b.source.Get(ctx, l.SourceParent, l.SourceID); err == nil {
				return []providers.Record{s}, nil, nil
			}
		}
		return nil, nil, nil
	}
	return nil, []providers.Record{rec}, nil
}

// recordFromEvent converts an event's JSON-ish fields to a record of schema
// s; fields the schema does not know, or whose values do not fit, are left
// null.
func recordFromEvent(s providers.Schema, id string, fields map[string]any) providers.Record {
	rec := providers.Record{ID: id, Fields: map[string]cty.Value{}}
	for _, f := range s.Fields {
		v, ok := fields[f.Name]
		if !ok || f.ReadOnly {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if cv, err := ctyjson.Unmarshal(b, f.Type); err == nil {
			rec.Fields[f.Name] = cv
		}
	}
	return rec
}
