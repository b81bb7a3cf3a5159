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
	"fmt"
	"log/slog"
	"net/http"
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
	// input is the diff input without the per-run parts (links, parents).
	input diff.Input
	// flipped is set for a child sync that runs the other way from its
	// parent sync.
	flipped bool
}

// Open loads the config, builds its providers and opens the state store.
// Configuration problems come back as diagnostics with source ranges; an
// error-free result may still carry warnings.
func Open(ctx context.Context, opts Options) (ws *Workspace, diags hcl.Diagnostics) {
	// Providers' own messages may quote a value the config read with env()
	// or file(); none of those may reach the user.
	defer func() { diags = config.Redact(diags) }()
	return open(ctx, opts)
}

func open(ctx context.Context, opts Options) (*Workspace, hcl.Diagnostics) {
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
		// Providers name themselves in their log lines.
		p, pdiags := factory(pb.Body, providers.Env{EvalContext: evalCtx, Logger: log,
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
	bound := map[string]*binding{}
	for _, sy := range orderSyncs(cfg.Syncs) {
		b, bdiags := ws.bind(sy, bound)
		diags = append(diags, bdiags...)
		if b != nil {
			ws.bindings = append(ws.bindings, b)
			bound[sy.Name] = b
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
