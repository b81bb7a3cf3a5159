package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bellsync/bellsync/cmd/bellsync/daemon"
	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers/ghl"
)

// The schedule `bellsync run` follows when sync.hcl has no schedule block.
const (
	defaultCron      = "*/15 * * * *"
	defaultFullEvery = 24 * time.Hour
)

// runFlags are `bellsync run`'s flags.
type runFlags struct {
	common
	listen      string
	once        bool
	stopTimeout time.Duration
}

// onListening, when set by a test, learns the webhook listener's address
// (tests listen on port 0).
var onListening func(net.Addr)

// observe, when set by a test, sees every scheduler event too, so the
// test can wait for a reconcile instead of sleeping.
var observe schedule.Hooks

func cmdRun(ctx context.Context, args []string, io stdio) int {
	var f runFlags
	fs := newFlagSet("run", io)
	f.register(fs)
	fs.StringVar(&f.listen, "listen", "", "serve webhooks, /healthz and /metrics on this host:port (overrides webhooks { listen })")
	fs.BoolVar(&f.once, "once", false, "do one pass and the webhook events left by an earlier run, then exit; no listener")
	fs.DurationVar(&f.stopTimeout, "stop-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long to let the reconcile in flight finish before cancelling it")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level}))

	ws, diags := engine.Open(ctx, engine.Options{ConfigPath: f.config, Registry: registry(), Logger: log})
	writeDiags(io.err, diags, f.color(stdio{out: io.err, env: io.env}))
	if diags.HasErrors() || ws == nil {
		return exitError
	}
	defer ws.Close()
	if err := runDaemon(ctx, ws, f, log); err != nil {
		// Once, as every command reports its error; a log line as well
		// would print the same failure twice.
		return errorf(io, "%v", err)
	}
	return exitOK
}

func runDaemon(ctx context.Context, ws *engine.Workspace, f runFlags, log *slog.Logger) error {
	cfg := ws.Config
	store, ok := ws.Store.(daemon.EventStore)
	if !ok {
		return errors.New("the state backend cannot keep webhook events; bellsync run needs the sqlite backend")
	}

	sch := cfg.Schedule
	if sch == nil {
		spec, err := config.ParseCron(defaultCron)
		if err != nil {
			return err
		}
		sch = &config.Schedule{Cron: defaultCron, Spec: spec, TimeZone: "UTC", Location: time.UTC,
			FullEvery: defaultFullEvery.String(), FullInterval: defaultFullEvery}
	}
	wh := cfg.Webhooks
	serve := !f.once && (wh != nil || f.listen != "")
	if wh == nil {
		wh = &config.Webhooks{Listen: config.DefaultListen}
	}
	addr := wh.Listen
	if f.listen != "" {
		if err := config.CheckListen(f.listen); err != nil {
			return fmt.Errorf("-listen %q: %v", f.listen, err)
		}
		addr = f.listen
	}

	// The port is taken before anything else happens, so a second daemon
	// fails at once instead of after a pass.
	var ln net.Listener
	if serve {
		var err error
		if ln, err = daemon.Listen(ctx, addr); err != nil {
			return err
		}
		defer ln.Close()
	}

	lastFull, err := lastFullPass(ctx, ws.Store)
	if err != nil {
		return err
	}

	metrics := daemon.NewMetrics(time.Now)
	for _, name := range []string{"ghl", "paperbell"} {
		if p, ok := ws.Provider(name); ok {
			if c := callCounts(p); c != nil {
				metrics.AddProvider(name, c)
			}
		}
	}
	var hooks forwardHooks
	sched, err := schedule.New(schedule.Options{Reconciler: ws, Cron: sch.Spec, Location: sch.Location,
		FullEvery: sch.FullInterval, LastFull: lastFull, Once: f.once, Logger: log.With("component", "scheduler"), Hooks: &hooks})
	if err != nil {
		return err
	}
	var location string
	if p, ok := ws.Provider("ghl"); ok {
		if l, ok := p.(interface{ LocationID() string }); ok {
			location = l.LocationID()
		}
	}
	srv, err := daemon.New(daemon.Options{Store: store, Queue: sched, GHLEd25519: wh.GHLPublicKey, GHLRSA: wh.GHLRSAPublicKey,
		GHLLocationID: location, PaperbellSecret: wh.PaperbellSecret, MaxBody: wh.MaxBody, PathPrefix: wh.PathPrefix,
		Logger: log.With("component", "webhooks"), Metrics: metrics})
	if err != nil {
		return err
	}
	hooks.Hooks = srv.Hooks()
	if observe != nil {
		hooks.Hooks = teeHooks{srv.Hooks(), observe}
	}

	n, err := srv.Replay(ctx)
	if err != nil {
		return err
	}
	log.Info("bellsync run starting", "config", cfg.Filename, "cron", sch.Cron, "time_zone", sch.TimeZone,
		"full_every", sch.FullInterval, "last_full", lastFull, "replayed_events", n, "once", f.once)

	var httpSrv *http.Server
	serveErr := make(chan error, 1)
	if serve {
		httpSrv = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { serveErr <- httpSrv.Serve(ln) }()
		log.Info("listening", "addr", ln.Addr().String(), "ghl", "POST "+wh.PathPrefix+"/ghl",
			"paperbell", "POST "+wh.PathPrefix+"/paperbell", "paperbell_enabled", !wh.PaperbellSecret.IsZero())
		if onListening != nil {
			onListening(ln.Addr())
		}
	}

	// Reconciles must outlive the signal: Stop decides when they end.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(runCtx) }()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping", "cause", context.Cause(ctx))
	case runErr = <-schedDone:
		schedDone <- runErr // for the Stop below, which waits on Run
	case err := <-serveErr:
		runErr = err
		log.Error("webhook listener failed", "err", err)
	}

	// New deliveries get 429 (GHL retries), then the reconcile in flight
	// finishes or is cancelled and journalled, then the listener closes.
	srv.Close()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.stopTimeout)
	defer cancel()
	if err := sched.Stop(stopCtx); err != nil {
		log.Warn("reconcile cut short at shutdown; it is journalled and resumes at the next start", "err", err)
	}
	if err := <-schedDone; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
		runErr = err
	}
	if httpSrv != nil {
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shut)
	}
	log.Info("bellsync run stopped")
	return runErr
}

// forwardHooks lets the scheduler be built before the server whose hooks
// it calls: the server needs the scheduler as its queue.
type forwardHooks struct{ schedule.Hooks }

// teeHooks calls two sets of hooks in turn.
type teeHooks [2]schedule.Hooks

func (t teeHooks) PassDone(ctx context.Context, kind schedule.PassKind, res schedule.Result, err error) {
	t[0].PassDone(ctx, kind, res, err)
	t[1].PassDone(ctx, kind, res, err)
}

func (t teeHooks) HintDone(ctx context.Context, h schedule.Hint, refs []int64, res schedule.Result, err error, final bool) {
	t[0].HintDone(ctx, h, refs, res, err, final)
	t[1].HintDone(ctx, h, refs, res, err, final)
}

// lastFullPass returns when the last successful full pass ended, from run
// history, or zero if there was none. A fresh `bellsync apply` reads
// everything as a full pass does, and counts as one.
func lastFullPass(ctx context.Context, st state.Store) (time.Time, error) {
	runs, err := st.Runs(ctx, 500)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		if (r.Kind == string(schedule.Full) || r.Kind == "apply") && r.Status == "ok" {
			return r.EndedAt, nil
		}
	}
	return time.Time{}, nil
}

// callCounter is implemented by providers that count their own traffic
// in a provider-neutral way.
type callCounter interface {
	CallCounts() (calls, rateLimited int64)
}

// callCounts adapts a provider's traffic counters for /metrics, or nil if
// it has none.
func callCounts(p any) daemon.CallCounts {
	switch p := p.(type) {
	case callCounter:
		return p.CallCounts
	case interface{ Stats() ghl.Stats }:
		return func() (int64, int64) {
			s := p.Stats()
			return s.Calls, s.RateLimited
		}
	}
	return nil
}
