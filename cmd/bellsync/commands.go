package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/apply"
	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl"
	"github.com/bellsync/bellsync/providers/paperbell"
)

// registry lists the providers built into this binary.
func registry() providers.Registry {
	return providers.Registry{"ghl": ghl.New, "paperbell": paperbell.New}
}

// common are the flags every config-reading command has.
type common struct {
	config  string
	noColor bool
	verbose bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "sync.hcl", "the config file")
	fs.BoolVar(&c.noColor, "no-color", false, "never colour the output")
	fs.BoolVar(&c.verbose, "v", false, "log API calls and per-record steps to stderr")
}

// logger logs at info by default: a plan against real rate limits can
// read for minutes, and its listing progress (every few seconds, only
// while a listing is slow) is what tells the user it is not hung.
func (c *common) logger(io stdio) *slog.Logger {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level}))
}

func (c *common) color(io stdio) bool {
	return !c.noColor && io.getenv("NO_COLOR") == "" && isTerminal(io.out)
}

func newFlagSet(name string, io stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("bellsync "+name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	return fs
}

func open(ctx context.Context, c common, io stdio, noState bool) (*engine.Workspace, bool) {
	ws, diags := engine.Open(ctx, engine.Options{ConfigPath: c.config, Registry: registry(),
		Logger: c.logger(io), NoState: noState})
	writeDiags(io.err, diags, c.color(stdio{out: io.err, env: io.env}))
	if diags.HasErrors() || ws == nil {
		return nil, false
	}
	return ws, true
}

// openOnly parses the common flags of a command that has no others and
// opens the workspace; code is the exit code when ws is nil.
func openOnly(ctx context.Context, name string, args []string, io stdio, strict bool) (ws *engine.Workspace, c common, code int) {
	fs := newFlagSet(name, io)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, c, parseExit(err)
	}
	ws, ok := open(ctx, c, io, strict)
	if !ok {
		return nil, c, exitError
	}
	return ws, c, exitOK
}

func cmdValidate(ctx context.Context, args []string, io stdio) int {
	ws, c, code := openOnly(ctx, "validate", args, io, true)
	if ws == nil {
		return code
	}
	defer ws.Close()
	fmt.Fprintf(io.out, "%s is valid: %s, %s.\n", c.config, plural(len(ws.Config.Providers), "provider", "providers"), plural(len(ws.Config.Syncs), "sync", "syncs"))
	return exitOK
}

func cmdFmt(_ context.Context, args []string, io stdio) int {
	fs := newFlagSet("fmt", io)
	check := fs.Bool("check", false, "only report files that are not formatted; exit 1 if any")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"sync.hcl"}
	}
	code := exitOK
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			code = errorf(io, "%v", err)
			continue
		}
		if _, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos); diags.HasErrors() {
			writeDiags(io.err, diags, false)
			code = exitError
			continue
		}
		out := config.Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		if *check {
			fmt.Fprintln(io.out, f)
			code = exitError
			continue
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			code = errorf(io, "%v", err)
			continue
		}
		fmt.Fprintln(io.out, f)
	}
	return code
}

func cmdPlan(ctx context.Context, args []string, io stdio) int {
	var c common
	fs := newFlagSet("plan", io)
	c.register(fs)
	out := fs.String("out", "", "save the plan to this `FILE`, for bellsync apply FILE")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	allowMass := fs.Bool("allow-mass-delete", false, "accept more deletes than max_deletes allows")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	ws, ok := open(ctx, c, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	p, err := ws.Plan(ctx)
	if err != nil {
		return errorf(io, "%v", err)
	}
	if *asJSON {
		err = p.WriteJSON(io.out)
	} else {
		// An incomplete plan says so on its summary line; the warnings
		// above it name the syncs left out.
		err = p.WriteText(io.out, plan.TextOptions{Color: c.color(io)})
	}
	if err != nil {
		return errorf(io, "%v", err)
	}
	if *out != "" {
		if !p.Complete {
			return errorf(io, "the plan is incomplete and was not saved")
		}
		if err := p.Save(*out); err != nil {
			return errorf(io, "%v", err)
		}
		if !*asJSON && (len(p.Blocked) == 0 || *allowMass) {
			fmt.Fprintf(io.out, "\nSaved the plan to %s. Apply exactly these changes with:\n  bellsync apply -config %s %s\n", *out, c.config, *out)
		}
	}
	if !p.Complete {
		return exitError
	}
	if len(p.Blocked) > 0 && !*allowMass {
		fmt.Fprintln(io.err, "Error: the plan deletes or suspends more records than max_deletes allows; check that the listings are right, then pass -allow-mass-delete if this is intended.")
		return exitError
	}
	if *detailed && p.HasChanges() {
		return exitChanges
	}
	return exitOK
}

func cmdApply(ctx context.Context, args []string, io stdio) int {
	var c common
	fs := newFlagSet("apply", io)
	c.register(fs)
	auto := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	wait := fs.Bool("lock-wait", false, "wait for another apply on the same state to finish instead of failing")
	workers := fs.Int("parallelism", 4, "changes written at once (at least 1)")
	allowMass := fs.Bool("allow-mass-delete", false, "apply even when the plan deletes more than max_deletes allows")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 1 {
		return errorf(io, "apply takes at most one plan file, got %d arguments (flags go before the plan file: bellsync apply -auto-approve FILE)", fs.NArg())
	}
	if *workers < 1 {
		// The engine reads 0 as its default, which is not what
		// "-parallelism 0" says; refused before anything is read.
		return errorf(io, "-parallelism must be at least 1, got %d", *workers)
	}
	ws, ok := open(ctx, c, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	color := c.color(io)

	var saved *plan.Plan
	if fs.NArg() == 1 {
		p, err := plan.Load(fs.Arg(0))
		if err != nil {
			return errorf(io, "%v", err)
		}
		saved = p
	} else {
		if code, ok := probeLock(ctx, ws, *wait, io); !ok {
			return code
		}
		// Show the plan first, as Terraform does; the apply below makes
		// its own after recovery, so it sees interrupted writes settled.
		p, err := ws.Plan(ctx)
		if err != nil {
			return errorf(io, "%v", err)
		}
		if err := p.WriteText(io.out, plan.TextOptions{Color: color}); err != nil {
			return errorf(io, "%v", err)
		}
		if !p.Complete {
			return errorf(io, "the plan is incomplete (%s); nothing was applied", unplanned(ws, p))
		}
		if len(p.Blocked) > 0 && !*allowMass {
			return errorf(io, "the plan deletes or suspends more records than max_deletes allows; nothing was applied (pass -allow-mass-delete if this is intended)")
		}
		if !p.HasChanges() {
			return exitOK
		}
		if !*auto {
			if !confirm(io) {
				fmt.Fprintln(io.out, "Apply cancelled.")
				return exitError
			}
		}
	}
	prog := newProgress(io.err, isTerminal(io.err))
	p, res, err := ws.Apply(ctx, saved, engine.ApplyOptions{Hooks: prog, Saved: saved != nil, LockWait: *wait, Workers: *workers, AllowMassDelete: *allowMass})
	prog.finish()
	if err != nil && !errors.Is(err, context.Canceled) {
		return errorf(io, "%v", err)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(io.err, "Error: %s\n", e)
	}
	for _, s := range prog.skipped() {
		fmt.Fprintf(io.out, "Skipped %s: it changed since the plan was made; plan again to see the new changes.\n", s)
	}
	head := "Apply complete"
	if errors.Is(err, context.Canceled) {
		head = "Apply interrupted"
	}
	summary := fmt.Sprintf("%s: %d applied, %d adopted, %d skipped (changed since plan), %d failed.",
		head, res.Counts[apply.Applied], res.Counts[apply.Adopted], res.Counts[apply.Stale], res.Counts[apply.Failed])
	if n := len(res.Created); n > 0 {
		summary += fmt.Sprintf(" %s by on_create rules.", plural(n, "record made", "records made"))
	}
	if n := res.Counts[apply.NotAttempted]; n > 0 {
		summary += fmt.Sprintf(" %d not attempted.", n)
	}
	if p != nil && p.Errored() {
		n := p.Counts().Errors
		summary += fmt.Sprintf(" %s left alone (see the plan).", plural(n, "record was", "records were"))
	}
	fmt.Fprintln(io.out, summary)
	if errors.Is(err, context.Canceled) {
		next := "run apply again to finish"
		if saved != nil {
			// A saved plan is refused once anything was written after it.
			next = "run `bellsync plan` again and apply the new plan to finish"
		}
		fmt.Fprintf(io.out, "Interrupted: the writes made so far are recorded; %s.\n", next)
		return exitError
	}
	if res.Counts[apply.Failed]+res.Counts[apply.NotAttempted] > 0 {
		return exitError
	}
	return exitOK
}

// probeLock fails fast when another apply holds the state lock, before a
// plan that can take minutes and print thousands of changes; with wait it
// waits for the lock first. It only probes: Workspace.Apply takes the lock
// itself and the lock is not reentrant, so it is released at once. An apply
// that starts in between is still refused by Apply's own lock.
func probeLock(ctx context.Context, ws *engine.Workspace, wait bool, io stdio) (int, bool) {
	unlock, err := ws.Store.Lock(ctx, "apply", false)
	var locked *state.LockedError
	if wait && errors.As(err, &locked) {
		fmt.Fprintf(io.err, "Waiting for the apply of pid %d (holding the state lock since %s UTC) to finish...\n",
			locked.PID, locked.Since.UTC().Format(time.TimeOnly))
		unlock, err = ws.Store.Lock(ctx, "apply", true)
	}
	if err != nil {
		return errorf(io, "%v; nothing was planned or applied", err), false
	}
	if err := unlock(); err != nil {
		return errorf(io, "%v", err), false
	}
	return exitOK, true
}

// unplanned says which syncs an incomplete plan left out, so that its
// counts are not taken for the whole picture.
func unplanned(ws *engine.Workspace, p *plan.Plan) string {
	var names []string
	for _, s := range ws.Config.Syncs {
		if _, ok := p.Unchanged[s.Name]; !ok {
			names = append(names, fmt.Sprintf("%q", s.Name))
		}
	}
	switch len(names) {
	case 0:
		return "a listing failed or was cut short"
	case 1:
		return "sync " + names[0] + " was not planned and is not in the counts above"
	}
	return "syncs " + strings.Join(names, ", ") + " were not planned and are not in the counts above"
}

func confirm(io stdio) bool {
	if f, ok := io.in.(*os.File); !ok || !isTerminal(f) {
		fmt.Fprintln(io.err, "Error: apply needs confirmation, but standard input is not a terminal; pass -auto-approve or a saved plan file.")
		return false
	}
	fmt.Fprint(io.out, "\nDo you want to make these changes?\n  Only 'yes' will be accepted.\n\n  Enter a value: ")
	line, _ := bufio.NewReader(io.in).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func cmdRuns(ctx context.Context, args []string, io stdio) int {
	var c common
	fs := newFlagSet("runs", io)
	c.register(fs)
	n := fs.Int("n", 20, "how many runs to list, newest first (at least 1)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	// The store reads a limit below 1 as no limit, which is not what
	// "-n 0" says.
	if *n < 1 {
		return errorf(io, "-n must be at least 1, got %d", *n)
	}
	ws, ok := open(ctx, c, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	runs, err := ws.Store.Runs(ctx, *n)
	if err != nil {
		return errorf(io, "%v", err)
	}
	if len(runs) == 0 {
		fmt.Fprintln(io.out, "No runs yet.")
	}
	for _, r := range runs {
		printRun(io, r)
	}
	return exitOK
}

func printRun(io stdio, r state.Run) {
	counts, _ := json.Marshal(r.Counts)
	dur := "running"
	if !r.EndedAt.IsZero() {
		dur = r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
	}
	// A killed run stays "running" in the state until the next apply
	// settles it; say what it is now if its process is gone.
	if pid, ok := runPID(r.ID); r.Status == "running" && ok && !processAlive(pid) {
		r.Status, dur = "interrupted", "-"
		r.Errors = append(r.Errors, fmt.Sprintf("process %d is no longer running on this host; the next apply settles its writes", pid))
	}
	fmt.Fprintf(io.out, "%s  %-11s %-7s %-9s %s\n", r.StartedAt.UTC().Format(time.RFC3339), r.Kind, r.Status, dur, counts)
	for i, e := range r.Errors {
		if i == 10 {
			fmt.Fprintf(io.out, "    ... and %d more errors\n", len(r.Errors)-10)
			break
		}
		fmt.Fprintf(io.out, "    error: %s\n", e)
	}
}

// runPID is the pid the engine puts in a run's id
// ("20060102T150405.000-PID" or "...-PID-KIND"); the run has no field
// for it.
func runPID(id string) (int, bool) {
	parts := strings.Split(id, "-")
	if len(parts) < 2 {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return pid, err == nil && pid > 0
}

// processAlive reports whether pid is a live process on this machine. A
// process that exists but is not ours to signal (EPERM) is alive.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// dumper is a state backend that can print itself. The parameter must be
// io.Writer exactly: a look-alike interface literal is a different type,
// and the assertion below would never match.
type dumper interface {
	Dump(ctx context.Context, w io.Writer) error
}

func cmdState(ctx context.Context, args []string, io stdio) int {
	if len(args) > 0 && args[0] == "audit" {
		return cmdAudit(ctx, args[1:], io)
	}
	if len(args) > 0 && args[0] == "forget" {
		return cmdForget(ctx, args[1:], io)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(io.out, "usage: bellsync state dump|audit|forget [-config FILE]")
		return exitOK
	}
	if len(args) == 0 || args[0] != "dump" {
		return errorf(io, "usage: bellsync state dump|audit|forget [-config FILE]")
	}
	ws, _, code := openOnly(ctx, "state dump", args[1:], io, false)
	if ws == nil {
		return code
	}
	defer ws.Close()
	d, ok := ws.Store.(dumper)
	if !ok {
		return errorf(io, "this state backend cannot be dumped")
	}
	if err := d.Dump(ctx, io.out); err != nil {
		return errorf(io, "%v", err)
	}
	return exitOK
}

// cmdAudit lists links whose record is gone on either side.
func cmdAudit(ctx context.Context, args []string, io stdio) int {
	ws, _, code := openOnly(ctx, "state audit", args, io, false)
	if ws == nil {
		return code
	}
	defer ws.Close()
	orphans, err := ws.Audit(ctx)
	if err != nil {
		return errorf(io, "%v", err)
	}
	if len(orphans) == 0 {
		fmt.Fprintln(io.out, "No orphaned links: every linked record exists on both sides.")
		return exitOK
	}
	for _, o := range orphans {
		gone := "source"
		switch {
		case o.SourceGone && o.TargetGone:
			gone = "both records"
		case o.TargetGone:
			gone = "target"
		}
		note := ""
		if retired(o.Link) {
			note = "; on_delete already acted on it, and the link is kept as history"
		}
		fmt.Fprintf(io.out, "sync.%s: link %s -> %s (%s): %s gone%s\n", o.Sync, o.Link.SourceID, o.Link.TargetID, o.Link.Status, gone, note)
	}
	fmt.Fprintf(io.out, "%s. Active links whose record is gone are acted on by the next full plan according to on_delete; with retain, they stay and every plan reports them as orphans.\n", plural(len(orphans), "orphaned link", "orphaned links"))
	return exitOK
}

// cmdForget drops links, so their records are matched afresh by the next
// plan: the way out of an orphaned link (a record deleted by hand).
func cmdForget(ctx context.Context, args []string, io stdio) int {
	var c common
	fs := newFlagSet("state forget", io)
	c.register(fs)
	syncName := fs.String("sync", "", "the sync whose links to forget (required)")
	orphans := fs.Bool("orphans", false, "forget every link whose record is gone on either side")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *syncName == "" || (!*orphans && fs.NArg() == 0) {
		return errorf(io, "usage: bellsync state forget -sync NAME (-orphans | SOURCE_ID...)")
	}
	ws, ok := open(ctx, c, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	links, err := ws.Store.Links(ctx, *syncName)
	if err != nil {
		return errorf(io, "%v", err)
	}
	var names []string
	known := false
	for _, s := range ws.Config.Syncs {
		names = append(names, s.Name)
		known = known || s.Name == *syncName
	}
	// A sync removed from the config can still have links worth
	// forgetting by id; -orphans needs the config to list its records.
	if !known && (*orphans || len(links) == 0) {
		return errorf(io, "%s has no sync %q.%s Its syncs: %s.", c.config, *syncName,
			config.DidYouMean(*syncName, names), strings.Join(names, ", "))
	}
	ids := fs.Args()
	if len(ids) > 0 {
		if missing := missingLinks(links, ids); len(missing) > 0 {
			for _, m := range missing {
				fmt.Fprintf(io.err, "Error: sync.%s has no link for source id %s\n", *syncName, m)
			}
			return errorf(io, "nothing was forgotten; `bellsync state dump -config %s` lists the links", c.config)
		}
	}
	if *orphans {
		found, err := ws.Audit(ctx)
		if err != nil {
			return errorf(io, "%v", err)
		}
		kept := 0
		for _, o := range found {
			switch {
			case o.Sync != *syncName:
			case retired(o.Link):
				// Forgetting it would have the next plan copy the survivor
				// back and undo the delete policy.
				kept++
			default:
				ids = append(ids, o.Link.SourceID)
			}
		}
		if kept > 0 {
			fmt.Fprintf(io.out, "Kept %s: forgetting them would let the next plan copy the record the delete policy put away back into the other system; forget them by source id if that is intended.\n",
				plural(kept, "suspended or deleted link", "suspended or deleted links"))
		}
		if len(ids) == 0 {
			fmt.Fprintf(io.out, "No orphaned links in sync.%s: nothing to forget.\n", *syncName)
			return exitOK
		}
	}
	for _, id := range ids {
		if err := ws.Store.DeleteLink(ctx, *syncName, id); err != nil {
			return errorf(io, "%v", err)
		}
		fmt.Fprintf(io.out, "forgot the link of sync.%s source %s\n", *syncName, id)
	}
	fmt.Fprintf(io.out, "%s forgotten; the next plan matches those records again by their keys.\n", plural(len(ids), "link", "links"))
	return exitOK
}

// retired reports whether a link was suspended or deleted by on_delete.
func retired(l state.Link) bool {
	return l.Status == state.LinkSuspended || l.Status == state.LinkDeleted
}

// missingLinks lists the ids that are not the source id of any link, each
// with a hint when it is a link's target id instead (the usual mix-up).
func missingLinks(links []state.Link, ids []string) []string {
	bySource, byTarget := map[string]bool{}, map[string]string{}
	for _, l := range links {
		bySource[l.SourceID] = true
		byTarget[l.TargetID] = l.SourceID
	}
	var missing []string
	for _, id := range ids {
		switch src, isTarget := byTarget[id]; {
		case bySource[id]:
		case isTarget:
			missing = append(missing, fmt.Sprintf("%s (it is the target id of the link from source %s; forget takes source ids)", id, src))
		default:
			missing = append(missing, id)
		}
	}
	return missing
}

// plural is "1 link" or "2 links".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
