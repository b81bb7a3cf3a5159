package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults for [Options] fields left zero.
const (
	DefaultQueueSize   = 1024
	DefaultMaxAttempts = 5
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 5 * time.Minute
)

// Backoff returns how long to wait before retry number attempt (1 for
// the first retry).
type Backoff func(attempt int) time.Duration

// ExponentialBackoff doubles from base up to max.
func ExponentialBackoff(base, max time.Duration) Backoff {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// Jitter spreads a delay so that hints that failed together (an API
// outage) do not all come back at the same instant.
type Jitter func(d time.Duration) time.Duration

// HalfJitter picks a delay uniformly in [d/2, d].
func HalfJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Hooks observe the scheduler; the daemon turns them into metrics and
// settles persisted webhook events. They are called from the scheduler's
// worker goroutines, never with its lock held, and must not block for
// long. Embed [NopHooks] to implement only some.
type Hooks interface {
	// PassDone reports a finished pass. ctx is the one the pass ran
	// under; it is cancelled when Stop's deadline passed.
	PassDone(ctx context.Context, kind PassKind, res Result, err error)
	// HintDone reports one reconcile of a hint. refs are the values given
	// to Enqueue for every hint that was coalesced into this one. final
	// is true when the scheduler is done with them: err is nil, or it
	// gave up (terminal error, attempts exhausted). final is false when
	// the hint will be retried, or was cut short by Stop and is left for
	// the next start.
	HintDone(ctx context.Context, h Hint, refs []int64, res Result, err error, final bool)
}

// NopHooks does nothing; embed it to implement part of [Hooks].
type NopHooks struct{}

// PassDone implements [Hooks].
func (NopHooks) PassDone(context.Context, PassKind, Result, error) {}

// HintDone implements [Hooks].
func (NopHooks) HintDone(context.Context, Hint, []int64, Result, error, bool) {}

// Options configure [New]. Only Reconciler is required.
type Options struct {
	Reconciler Reconciler
	// Cron fires incremental passes, read in Location (UTC when nil).
	// Nil means no scheduled incremental passes.
	Cron     cron.Schedule
	Location *time.Location
	// FullEvery is the period of full passes; zero means none after the
	// first.
	FullEvery time.Duration
	// LastFull is when the last successful full pass ended (from run
	// history), so a restart does not re-read everything: the first pass
	// is full only if LastFull is zero or FullEvery has passed since.
	// Otherwise it is incremental and resumes from the saved cursors.
	LastFull time.Time
	// NoStartPass skips the pass that Run otherwise starts with.
	NoStartPass bool
	// Once makes Run return as soon as the first pass is done and the hint
	// queue is empty; failed hints are not retried.
	Once bool

	// QueueSize bounds distinct hints waiting or running; beyond it
	// Enqueue returns ErrOverloaded. Default DefaultQueueSize.
	QueueSize int
	// MaxAttempts is how often a failing hint is tried before the
	// scheduler gives up on it (the next full pass still catches the
	// record). Default DefaultMaxAttempts.
	MaxAttempts int
	// Backoff and Jitter space retries; defaults ExponentialBackoff(1s,
	// 5m) and HalfJitter.
	Backoff Backoff
	Jitter  Jitter

	Clock  Clock // default SystemClock
	Logger *slog.Logger
	Hooks  Hooks
}

// Scheduler decides when to reconcile: incremental passes on a cron
// schedule, full passes on a period, and a queue of webhook hints
// reconciled one record at a time. At most one pass runs at a time, and
// at most one hint; a pass and a hint may overlap, since the Reconciler
// serialises its own writes through the state lock.
//
// Hints are coalesced by (Provider, Kind, ID): a hint for a record that
// is already queued merges into the queued one, and a hint for a record
// being reconciled right now is queued once more after that reconcile,
// because the running one may have read the record before the change.
// Hints without an ID are never coalesced.
//
// All methods are safe for concurrent use.
type Scheduler struct {
	opts Options
	log  *slog.Logger
	// wake nudges the loop after a change it must look at; capacity 1.
	wake chan struct{}
	// done is closed when Run has returned.
	done chan struct{}
	// workers counts running pass and hint goroutines.
	workers sync.WaitGroup

	// mu guards everything below.
	mu sync.Mutex
	// started is set by Run; stopping by Stop or the end of Run's ctx.
	started, stopping bool
	// cancelWork ends the context reconciles run under.
	cancelWork context.CancelFunc
	// items holds every hint that is queued, running or waiting for a
	// retry; queue lists the queued ones in arrival order.
	items map[hintKey]*item
	queue []*item
	// anon numbers hints without an ID, so each gets its own key.
	anon int
	// seq numbers items as they arrive.
	seq int64
	// wantFull and wantIncremental are passes due but not yet started.
	wantFull, wantIncremental bool
	// passing and hinting are set while a worker runs.
	passing, hinting   bool
	nextCron, nextFull time.Time
}

type hintKey struct {
	provider, kind, id string
	anon               int
}

type itemState int

const (
	queued itemState = iota
	running
	waiting // for a retry at due
)

type item struct {
	key hintKey
	// seq orders items by first arrival.
	seq      int64
	hint     Hint
	refs     []int64
	state    itemState
	attempts int
	due      time.Time
	// dirty is set when a hint arrived while this one was running; next
	// and nextRefs are what arrived.
	dirty    bool
	next     Hint
	nextRefs []int64
}

// New checks opts and fills in defaults.
func New(opts Options) (*Scheduler, error) {
	if opts.Reconciler == nil {
		return nil, errors.New("schedule: no reconciler")
	}
	if opts.FullEvery < 0 {
		return nil, fmt.Errorf("schedule: negative full pass period %s", opts.FullEvery)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff == nil {
		opts.Backoff = ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax)
	}
	if opts.Jitter == nil {
		opts.Jitter = HalfJitter
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hooks == nil {
		opts.Hooks = NopHooks{}
	}
	return &Scheduler{
		opts:  opts,
		log:   opts.Logger,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		items: map[hintKey]*item{},
	}, nil
}

// Enqueue adds a hint. refs are opaque values handed back to
// [Hooks.HintDone] (the daemon passes the persisted event's sequence
// number). It may be called before Run, to replay persisted events. It
// returns ErrStopped once Stop was called and ErrOverloaded when the
// queue is full; either way the hint was not taken.
func (s *Scheduler) Enqueue(h Hint, refs ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return ErrStopped
	}
	k := hintKey{provider: h.Provider, kind: h.Kind, id: h.ID}
	if h.ID == "" {
		s.anon++
		k.anon = s.anon
	}
	if it, ok := s.items[k]; ok {
		switch it.state {
		case queued:
			it.hint = merge(it.hint, h)
			it.refs = append(it.refs, refs...)
		case waiting:
			// New news about a record that failed: try it now rather
			// than at the end of its backoff.
			it.hint = merge(it.hint, h)
			it.refs = append(it.refs, refs...)
			it.state, it.attempts = queued, 0
			s.queue = append(s.queue, it)
			s.signal()
		case running:
			if it.dirty {
				it.next = merge(it.next, h)
			} else {
				it.dirty, it.next = true, h
			}
			it.nextRefs = append(it.nextRefs, refs...)
		}
		return nil
	}
	if len(s.items) >= s.opts.QueueSize {
		return ErrOverloaded
	}
	s.seq++
	it := &item{key: k, seq: s.seq, hint: h, refs: append([]int64(nil), refs...)}
	s.items[k] = it
	s.queue = append(s.queue, it)
	s.signal()
	return nil
}

// merge folds a newer hint for the same record into an older one: the
// newer wins, except that it does not erase what only the older knew.
func merge(old, h Hint) Hint {
	if h.ParentID == "" {
		h.ParentID = old.ParentID
	}
	if h.Fields == nil {
		h.Fields = old.Fields
	}
	return h
}

// Len reports how many distinct hints are queued, running or waiting.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Accepting reports whether Enqueue would take a hint (if the queue had
// room): false once Stop was called.
func (s *Scheduler) Accepting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.stopping
}

// signal wakes the loop without blocking.
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run drives passes and hints until Stop is called or ctx ends, and
// returns once no reconcile is running. Reconciles run under a context
// derived from ctx, so ending ctx cancels them at once; use Stop for a
// graceful end. Run returns nil after Stop, ctx's error when ctx ended,
// and must be called only once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("schedule: Run called twice")
	}
	s.started = true
	work, cancel := context.WithCancel(ctx)
	s.cancelWork = cancel
	s.startLocked(s.opts.Clock.Now())
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	s.log.Info("scheduler started", "next_incremental", s.nextCron, "next_full", s.nextFull)
	for {
		s.mu.Lock()
		if ctx.Err() != nil {
			s.stopping = true
		}
		if !s.stopping {
			s.dispatchLocked(work)
			if s.opts.Once && s.idleLocked() {
				s.stopping = true
			}
		}
		if s.stopping {
			s.mu.Unlock()
			s.workers.Wait()
			s.log.Info("scheduler stopped")
			return ctx.Err()
		}
		deadline := s.deadlineLocked()
		s.mu.Unlock()

		var fire <-chan time.Time
		var t Timer
		if !deadline.IsZero() {
			t = s.opts.Clock.NewTimer(deadline.Sub(s.opts.Clock.Now()))
			fire = t.C()
		}
		select {
		case <-fire:
		case <-s.wake:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		s.mu.Lock()
		s.tickLocked(s.opts.Clock.Now())
		s.mu.Unlock()
	}
}

// Stop stops taking hints and starting work, waits for the reconciles
// in flight, and returns once Run has. If ctx ends first, the reconciles
// are cancelled (the engine journals what it was writing) and Stop
// returns an error after they return. Hints still queued are dropped;
// the daemon has persisted them and replays them at the next start.
// Stop before Run returns at once.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	started := s.started
	cancel := s.cancelWork
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.signal()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	cancel()
	<-s.done
	return fmt.Errorf("schedule: stop: reconcile cancelled: %w", context.Cause(ctx))
}

// startLocked decides the first pass and the first deadlines. s.mu must
// be held.
func (s *Scheduler) startLocked(now time.Time) {
	fullDue := s.opts.LastFull.IsZero() ||
		(s.opts.FullEvery > 0 && !now.Before(s.opts.LastFull.Add(s.opts.FullEvery)))
	if !s.opts.NoStartPass {
		if fullDue {
			s.wantFull = true
		} else {
			s.wantIncremental = true
		}
	}
	if s.opts.FullEvery > 0 {
		if fullDue {
			s.nextFull = now.Add(s.opts.FullEvery)
		} else {
			s.nextFull = s.opts.LastFull.Add(s.opts.FullEvery)
		}
	}
	if s.opts.Cron != nil && !s.opts.Once {
		s.nextCron = s.opts.Cron.Next(now.In(s.opts.Location))
	}
	if s.opts.Once {
		s.nextFull = time.Time{}
	}
}

// tickLocked turns deadlines that have passed into due work. s.mu must
// be held.
func (s *Scheduler) tickLocked(now time.Time) {
	if !s.nextCron.IsZero() && !now.Before(s.nextCron) {
		s.wantIncremental = true
		s.nextCron = s.opts.Cron.Next(now.In(s.opts.Location))
	}
	if !s.nextFull.IsZero() && !now.Before(s.nextFull) {
		s.wantFull = true
		// From now, not from the missed deadline: a laptop that slept
		// through three periods does one full pass, not three.
		s.nextFull = now.Add(s.opts.FullEvery)
	}
	var due []*item
	for _, it := range s.items {
		if it.state == waiting && !now.Before(it.due) {
			due = append(due, it)
		}
	}
	// Oldest first, so retries keep the order their events came in.
	slices.SortFunc(due, func(a, b *item) int { return cmp.Compare(a.seq, b.seq) })
	for _, it := range due {
		it.state = queued
		s.queue = append(s.queue, it)
	}
}

// deadlineLocked returns the earliest time the loop must wake, or zero
// for none. s.mu must be held.
func (s *Scheduler) deadlineLocked() time.Time {
	var d time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	earlier(s.nextCron)
	earlier(s.nextFull)
	for _, it := range s.items {
		if it.state == waiting {
			earlier(it.due)
		}
	}
	return d
}

func (s *Scheduler) idleLocked() bool {
	return !s.passing && !s.hinting && !s.wantFull && !s.wantIncremental && len(s.items) == 0
}

// dispatchLocked starts a pass and a hint worker if there is work and
// none is running. s.mu must be held.
func (s *Scheduler) dispatchLocked(ctx context.Context) {
	if !s.passing && (s.wantFull || s.wantIncremental) {
		kind := Incremental
		if s.wantFull {
			kind = Full
		}
		// A full pass reads everything an incremental one would, so it
		// settles both.
		s.wantFull, s.wantIncremental = false, false
		s.passing = true
		s.workers.Add(1)
		go s.pass(ctx, kind)
	}
	if !s.hinting && len(s.queue) > 0 {
		s.hinting = true
		s.workers.Add(1)
		go s.hints(ctx)
	}
}

func (s *Scheduler) pass(ctx context.Context, kind PassKind) {
	defer s.workers.Done()
	start := s.opts.Clock.Now()
	s.log.Info("pass started", "kind", kind)
	var res Result
	err := safely(func() (err error) {
		res, err = s.opts.Reconciler.Pass(ctx, kind)
		return err
	})
	elapsed := s.opts.Clock.Now().Sub(start)
	switch {
	case err == nil:
		s.log.Info("pass done", "kind", kind, "run", res.RunID, "duration", elapsed, "counts", res.Counts,
			"errors", len(res.Errors), "skipped", len(res.Skipped))
		if len(res.Errors) > 0 {
			s.log.Warn("pass left errors", "kind", kind, "run", res.RunID, "errors", firstFew(res.Errors))
		}
	case ctx.Err() != nil:
		s.log.Info("pass cancelled", "kind", kind, "run", res.RunID)
	default:
		s.log.Warn("pass failed", "kind", kind, "run", res.RunID, "duration", elapsed, "err", err)
	}
	s.opts.Hooks.PassDone(ctx, kind, res, err)
	s.mu.Lock()
	s.passing = false
	s.mu.Unlock()
	s.signal()
}

// hints reconciles queued hints one at a time until the queue is empty
// or the scheduler stops.
func (s *Scheduler) hints(ctx context.Context) {
	defer s.workers.Done()
	defer s.signal()
	for {
		s.mu.Lock()
		if s.stopping || len(s.queue) == 0 {
			s.hinting = false
			s.mu.Unlock()
			return
		}
		it := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		it.state = running
		h, refs := it.hint, it.refs
		it.refs = nil
		s.mu.Unlock()

		var res Result
		err := safely(func() (err error) {
			res, err = s.opts.Reconciler.Record(ctx, h)
			return err
		})

		s.mu.Lock()
		it.attempts++
		final := true
		switch {
		case err == nil:
		case ctx.Err() != nil:
			// Cut short by Stop: the persisted events replay at the
			// next start.
			final = false
		case IsTerminal(err) || it.attempts >= s.opts.MaxAttempts || s.opts.Once:
		default:
			final = false
		}
		switch {
		case !final && ctx.Err() == nil:
			// Retry later, folding in anything that arrived meanwhile.
			it.refs = append(refs, it.nextRefs...)
			if it.dirty {
				it.hint = merge(it.hint, it.next)
			}
			it.dirty, it.next, it.nextRefs = false, Hint{}, nil
			it.state = waiting
			it.due = s.opts.Clock.Now().Add(s.opts.Jitter(s.opts.Backoff(it.attempts)))
		case it.dirty:
			// Something changed while we were reading: look once more.
			it.hint, it.refs = merge(it.hint, it.next), it.nextRefs
			it.dirty, it.next, it.nextRefs = false, Hint{}, nil
			it.state, it.attempts = queued, 0
			s.queue = append(s.queue, it)
		default:
			delete(s.items, it.key)
		}
		due, attempts := it.due, it.attempts
		s.mu.Unlock()

		log := s.log.With("provider", h.Provider, "kind", h.Kind, "id", h.ID)
		switch {
		case err == nil:
			log.Debug("hint reconciled", "run", res.RunID, "counts", res.Counts, "errors", len(res.Errors), "skipped", len(res.Skipped))
		case !final && ctx.Err() == nil:
			log.Debug("hint failed, will retry", "attempt", attempts, "at", due, "err", err)
		case !final:
			log.Debug("hint cancelled by shutdown")
		default:
			log.Warn("hint failed, giving up until the next full pass", "attempts", attempts, "err", err)
		}
		s.opts.Hooks.HintDone(ctx, h, refs, res, err, final)
	}
}

// safely turns a panic in the reconciler into an error, so one bad
// record cannot kill the daemon.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schedule: reconcile panicked: %v", r)
		}
	}()
	return f()
}

// firstFew keeps log lines bounded: a pass can fail thousands of records
// the same way, and `bellsync runs` has them all.
func firstFew(msgs []string) []string {
	const n = 10
	if len(msgs) <= n {
		return msgs
	}
	return append(msgs[:n:n], fmt.Sprintf("and %d more (see `bellsync runs`)", len(msgs)-n))
}
