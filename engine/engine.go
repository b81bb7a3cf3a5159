// Package engine ties a sync.hcl to live providers and a state store and
// runs the reconcile loop: [Open] loads and checks the config and builds
// each provider from its block; [Workspace.Plan] diffs every sync in
// dependency order; [Workspace.Apply] recovers interrupted writes, then
// carries a plan out under the state lock.
//
// The engine knows nothing of GHL or Paperbell: it sees resource kinds,
// schemas and records through the providers contract, and it never
// prints; callers pass hooks and render plans themselves.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/diff"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/hashicorp/hcl/v2"
)

// Options configure Open.
type Options struct {
	ConfigPath string
	Registry   providers.Registry
	Logger     *slog.Logger
	HTTPClient *http.Client
	// StatePath overrides the config's state path (tests).
	StatePath string
	// NoState skips opening the state store (validate).
	NoState bool
	Now     func() time.Time
}

// Workspace is one loaded config with its providers and state.
type Workspace struct {
	Config    *config.Config
	Store     state.Store
	providers map[string]providers.Provider
	bindings  []*binding
	log       *slog.Logger
	now       func() time.Time
}

type binding struct {
	sync   *config.Sync
	source providers.Resource
	target providers.Resource
}

// Open loads the config, builds its providers and opens the state store.
// Configuration problems come back as diagnostics with source ranges; an
// error-free result may still carry warnings.
func Open(ctx context.Context, opts Options) (*Workspace, hcl.Diagnostics) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, diags := config.Load(opts.ConfigPath)
	if diags.HasErrors() {
		return nil, diags
	}
	ws := &Workspace{Config: cfg, providers: map[string]providers.Provider{}, log: log, now: opts.Now}
	var tokens providers.TokenStore
	if !opts.NoState {
		path := cfg.State.Path
		if opts.StatePath != "" {
			path = opts.StatePath
		}
		st, err := state.OpenSQLite(ctx, path)
		if err != nil {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot open the state database",
				Detail: err.Error() + ".", Subject: cfg.State.DeclRange.Ptr()})
		}
		ws.Store = st
		tokens = st
	}
	evalCtx := config.EvalContext(nil, cfg.BaseDir)
	for _, pb := range cfg.Providers {
		factory, ok := opts.Registry[pb.Type]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown provider type",
				Detail:  fmt.Sprintf("There is no provider %q. The providers built in are: %s.", pb.Type, registryNames(opts.Registry)),
				Subject: pb.TypeRange.Ptr()})
			continue
		}
		p, pdiags := factory(pb.Body, providers.Env{EvalContext: evalCtx, Logger: log.With("provider", pb.Type),
			HTTPClient: opts.HTTPClient, BaseDir: cfg.BaseDir, Tokens: tokens})
		diags = append(diags, pdiags...)
		if p != nil && !pdiags.HasErrors() {
			ws.providers[pb.Type] = p
		}
	}
	if diags.HasErrors() {
		ws.Close()
		return nil, diags
	}
	for _, sy := range orderSyncs(cfg.Syncs) {
		b, bdiags := ws.bind(sy)
		diags = append(diags, bdiags...)
		if b != nil {
			ws.bindings = append(ws.bindings, b)
		}
	}
	if diags.HasErrors() {
		ws.Close()
		return nil, diags
	}
	return ws, diags
}

// Close releases the state store.
func (ws *Workspace) Close() error {
	if ws.Store != nil {
		return ws.Store.Close()
	}
	return nil
}

// Provider returns a configured provider by type.
func (ws *Workspace) Provider(name string) (providers.Provider, bool) {
	p, ok := ws.providers[name]
	return p, ok
}

// Plan diffs every sync. A listing failure makes the plan incomplete but
// other syncs are still planned, so the user sees everything at once.
func (ws *Workspace) Plan(ctx context.Context) (*plan.Plan, error) {
	p := &plan.Plan{ConfigHash: ws.Config.Hash, ConfigFile: ws.Config.Filename, CreatedAt: ws.now().UTC(),
		Unchanged: map[string]int{}, Complete: true}
	for _, b := range ws.bindings {
		links, err := ws.Store.Links(ctx, b.sync.Name)
		if err != nil {
			return nil, fmt.Errorf("read links of sync %q: %w", b.sync.Name, err)
		}
		if ops, err := ws.Store.PendingOps(ctx, b.sync.Name); err == nil && len(ops) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("sync %q has %d interrupted writes from an earlier apply; apply will settle them first, so this plan may show records it then links instead of creating.", b.sync.Name, len(ops)))
		}
		res, err := diff.Plan(ctx, diff.Input{Sync: b.sync, Source: b.source, Target: b.target, Links: links,
			EvalContext: config.EvalContext(nil, ws.Config.BaseDir), KeepSource: len(b.sync.OnCreate) > 0})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.Complete = false
			p.Warnings = append(p.Warnings, fmt.Sprintf("sync %q was not planned: %v", b.sync.Name, err))
			continue
		}
		p.Changes = append(p.Changes, res.Changes...)
		p.Unchanged[b.sync.Name] = res.Unchanged
	}
	sortChanges(p.Changes)
	return p, nil
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
}

// ErrConfigChanged is returned when a saved plan came from another config.
var ErrConfigChanged = errors.New("the config changed since this plan was made")

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
	runID := fmt.Sprintf("%s-%d", ws.now().UTC().Format("20060102T150405"), os.Getpid())
	run := state.Run{ID: runID, Kind: "apply", StartedAt: ws.now().UTC(), Status: "running"}
	_ = ws.Store.StartRun(ctx, run)

	sides := map[string]apply.Sides{}
	linked := map[string]map[string]bool{}
	for _, b := range ws.bindings {
		sides[b.sync.Name] = apply.Sides{Source: b.source, Target: b.target}
		rec, err := apply.Recover(ctx, ws.Store, b.sync.Name, sides[b.sync.Name])
		if err != nil {
			return p, apply.Result{}, err
		}
		for _, r := range rec {
			ws.log.Info("settled interrupted write", "sync", b.sync.Name, "source", r.Op.Key, "record", r.RecordID, "err", r.Err)
		}
		links, err := ws.Store.Links(ctx, b.sync.Name)
		if err != nil {
			return p, apply.Result{}, fmt.Errorf("read links: %w", err)
		}
		linked[b.sync.Name] = map[string]bool{}
		for _, l := range links {
			linked[b.sync.Name][l.SourceID] = true
		}
	}
	if p == nil {
		if p, err = ws.Plan(ctx); err != nil {
			return nil, apply.Result{}, err
		}
	}
	var current map[string]apply.Digests
	if opts.Saved {
		if current, err = ws.snapshots(ctx, p); err != nil {
			return p, apply.Result{}, err
		}
	}
	res, err := apply.Apply(ctx, p, apply.Options{RunID: runID, Sides: sides, Store: ws.Store, Hooks: opts.Hooks,
		CheckStale: opts.Saved, Workers: opts.Workers, Now: ws.now, Linked: linked, Current: current})
	run.EndedAt = ws.now().UTC()
	run.Counts = map[string]int{}
	for k, v := range res.Counts {
		run.Counts[string(k)] = v
	}
	run.Errors = res.Errors
	run.Status = "ok"
	if err != nil || len(res.Errors) > 0 {
		run.Status = "failed"
	}
	_ = ws.Store.FinishRun(context.WithoutCancel(ctx), run)
	return p, res, err
}

// bulkReread is the number of changes in one sync above which a saved
// plan's staleness check lists both sides once instead of reading each
// record: two searches of 500 beat a thousand single reads at 10 a second.
const bulkReread = 20

// snapshots re-reads, for each sync with many changes, both sides in full.
func (ws *Workspace) snapshots(ctx context.Context, p *plan.Plan) (map[string]apply.Digests, error) {
	n := map[string]int{}
	for _, ch := range p.Changes {
		if ch.Action.Writes() {
			n[ch.Sync]++
		}
	}
	out := map[string]apply.Digests{}
	for _, b := range ws.bindings {
		if n[b.sync.Name] <= bulkReread {
			continue
		}
		d := apply.Digests{Source: map[string]string{}, Target: map[string]string{}}
		for _, side := range []struct {
			r providers.Resource
			m map[string]string
		}{{b.source, d.Source}, {b.target, d.Target}} {
			s := side.r.Schema()
			err := side.r.List(ctx, providers.ListOptions{}, func(r providers.Record) error {
				side.m[r.ID] = diff.Digest(s, r)
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("re-read sync %q before applying the saved plan: %w", b.sync.Name, err)
			}
		}
		out[b.sync.Name] = d
	}
	return out, nil
}

// bind resolves a sync's resources and checks its expressions and
// capabilities against the provider schemas.
func (ws *Workspace) bind(sy *config.Sync) (*binding, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	src, d := ws.resource(sy.Source)
	diags = append(diags, d...)
	tgt, d := ws.resource(sy.Target)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	ss, ts := src.Schema(), tgt.Schema()
	need := func(ok bool, ref config.Ref, what string) {
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Provider lacks a capability this sync needs",
				Detail: fmt.Sprintf("%s cannot %s, which sync %q needs.", ref, what, sy.Name), Subject: ref.Range.Ptr()})
		}
	}
	need(ss.Caps.List, sy.Source, "list records")
	need(ts.Caps.List, sy.Target, "list records")
	need(ts.Caps.Create, sy.Target, "create records")
	need(ts.Caps.Update, sy.Target, "update records")
	for _, m := range sy.Map {
		f, ok := ts.Field(m.Field)
		switch {
		case !ok:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown target field",
				Detail:  fmt.Sprintf("%s has no field %q. Its fields are: %s.", sy.Target, m.Field, fieldNames(ts, true)),
				Subject: m.Range.Ptr()})
		case f.ReadOnly:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Read-only target field",
				Detail:  fmt.Sprintf("%s field %q is set by the API and cannot be written; remove it from the map.", sy.Target, m.Field),
				Subject: m.Range.Ptr()})
		}
		diags = append(diags, checkRefs(m.Expr, "source", ss, sy.Source)...)
		diags = append(diags, checkRefs(m.Expr, "target", ts, sy.Target)...)
	}
	for _, k := range sy.Match {
		diags = append(diags, checkRefs(k.Source, "source", ss, sy.Source)...)
		diags = append(diags, checkRefs(k.Target, "target", ts, sy.Target)...)
	}
	if len(sy.Match) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing match block",
			Detail:  fmt.Sprintf("Sync %q needs a match block with at least one key, so bellsync can find a record's counterpart instead of creating a duplicate.", sy.Name),
			Subject: sy.DeclRange.Ptr()})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return &binding{sync: sy, source: src, target: tgt}, diags
}

func (ws *Workspace) resource(ref config.Ref) (providers.Resource, hcl.Diagnostics) {
	p, ok := ws.providers[ref.Provider]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown provider",
			Detail:  fmt.Sprintf("No provider %q block is configured; add one or fix the reference.", ref.Provider),
			Subject: ref.Range.Ptr()}}
	}
	r, err := p.Resource(ref.Kind)
	if err != nil {
		var kinds []string
		for _, s := range p.Kinds() {
			kinds = append(kinds, ref.Provider+"."+s.Kind)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown resource kind",
			Detail:  fmt.Sprintf("%s does not exist. Available: %s.", ref, strings.Join(kinds, ", ")),
			Subject: ref.Range.Ptr()}}
	}
	return r, nil
}

// checkRefs reports references like source.emial that name no field, so a
// typo fails validation instead of mapping every record to null.
func checkRefs(expr hcl.Expression, root string, s providers.Schema, ref config.Ref) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	var diags hcl.Diagnostics
	obj := s.ObjectType()
	for _, tr := range expr.Variables() {
		if tr.RootName() != root {
			continue
		}
		if len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		if !obj.HasAttribute(attr.Name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown field",
				Detail:  fmt.Sprintf("%s records have no field %q. Fields: %s.", ref, attr.Name, fieldNames(s, false)),
				Subject: tr.SourceRange().Ptr()})
		}
	}
	return diags
}

func fieldNames(s providers.Schema, writable bool) string {
	var n []string
	for _, f := range s.Fields {
		if writable && f.ReadOnly {
			continue
		}
		n = append(n, f.Name)
	}
	if !writable {
		n = append(n, "id", "parent_id", "updated_at")
	}
	return strings.Join(n, ", ")
}

func registryNames(r providers.Registry) string {
	var n []string
	for k := range r {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// orderSyncs puts parents before children (config validation has already
// rejected cycles).
func orderSyncs(syncs []*config.Sync) []*config.Sync {
	byName := map[string]*config.Sync{}
	for _, s := range syncs {
		byName[s.Name] = s
	}
	var out []*config.Sync
	done := map[string]bool{}
	var visit func(s *config.Sync)
	visit = func(s *config.Sync) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		if p, ok := byName[s.Parent]; ok {
			visit(p)
		}
		out = append(out, s)
	}
	for _, s := range syncs {
		visit(s)
	}
	return out
}

// sortChanges keeps sync order, then shows writes before problems, each
// by source id, so a plan reads the same every time (golden files).
func sortChanges(chs []plan.Change) {
	syncOrder := map[string]int{}
	for _, c := range chs {
		if _, ok := syncOrder[c.Sync]; !ok {
			syncOrder[c.Sync] = len(syncOrder)
		}
	}
	rank := func(a plan.Action) int {
		switch a {
		case plan.Skip:
			return 2
		case plan.Orphan:
			return 1
		}
		return 0
	}
	sort.SliceStable(chs, func(i, j int) bool {
		a, b := chs[i], chs[j]
		if syncOrder[a.Sync] != syncOrder[b.Sync] {
			return syncOrder[a.Sync] < syncOrder[b.Sync]
		}
		if rank(a.Action) != rank(b.Action) {
			return rank(a.Action) < rank(b.Action)
		}
		return a.Source.ID < b.Source.ID
	})
}

// DefaultStatePath is where state lives when the config does not say.
func DefaultStatePath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), ".bellsync", "state.db")
}
