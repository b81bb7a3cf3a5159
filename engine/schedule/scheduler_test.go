package schedule_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/schedule/schedtest"
)

// t0 is a Monday, midnight UTC.
var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// hookLog records what the scheduler reports.
type hookLog struct {
	mu     sync.Mutex
	passes []string
	hints  []string
}

func (h *hookLog) PassDone(_ context.Context, kind schedule.PassKind, _ schedule.Result, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := string(kind)
	if err != nil {
		s += " failed"
	}
	h.passes = append(h.passes, s)
}

func (h *hookLog) HintDone(_ context.Context, hint schedule.Hint, refs []int64, _ schedule.Result, err error, final bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := hint.ID
	for _, r := range refs {
		s += " #" + strconv.FormatInt(r, 10)
	}
	switch {
	case err == nil:
		s += " ok"
	case final:
		s += " gave up"
	default:
		s += " retry"
	}
	h.hints = append(h.hints, s)
}

func (h *hookLog) hintLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hints...)
}

// env is one scheduler under test, running inside a synctest bubble.
type env struct {
	t     *testing.T
	clk   *schedtest.Clock
	rec   *schedtest.Reconciler
	hooks *hookLog
	s     *schedule.Scheduler
	errc  chan error

	stopOnce, waitOnce sync.Once
	runErr             error
}

// wait returns what Run returned, waiting for it.
func (e *env) wait() error {
	e.waitOnce.Do(func() { e.runErr = <-e.errc })
	return e.runErr
}

func start(t *testing.T, opts schedule.Options, rec *schedtest.Reconciler) *env {
	t.Helper()
	e := &env{t: t, clk: schedtest.NewClock(t0), rec: rec, hooks: &hookLog{}, errc: make(chan error, 1)}
	if e.rec == nil {
		e.rec = &schedtest.Reconciler{}
	}
	opts.Clock, opts.Reconciler, opts.Hooks = e.clk, e.rec, e.hooks
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return d }
	}
	s, err := schedule.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return e
}

func (e *env) run() {
	go func() { e.errc <- e.s.Run(context.Background()) }()
	// A failed test must still end Run, or the bubble never empties.
	e.t.Cleanup(e.stop)
	synctest.Wait()
}

func (e *env) advance(d time.Duration) {
	e.clk.Advance(d)
	synctest.Wait()
}

func (e *env) stop() {
	e.t.Helper()
	e.stopOnce.Do(func() {
		if err := e.s.Stop(context.Background()); err != nil {
			e.t.Errorf("Stop: %v", err)
		}
		if err := e.wait(); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
}

func (e *env) enqueue(h schedule.Hint, refs ...int64) {
	e.t.Helper()
	if err := e.s.Enqueue(h, refs...); err != nil {
		e.t.Fatalf("Enqueue(%s): %v", h.ID, err)
	}
}

func passes(calls []schedtest.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Pass != "" {
			out = append(out, string(c.Pass))
		}
	}
	return out
}

func hintIDs(hs []schedule.Hint) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

func mustCron(t *testing.T, spec string) schedule.Options {
	t.Helper()
	c, err := config.ParseCron(spec)
	if err != nil {
		t.Fatal(err)
	}
	return schedule.Options{Cron: c}
}

func TestPassSchedule(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		advance time.Duration
		want    []string // every pass so far
	}
	for _, tc := range []struct {
		name      string
		cron      string
		loc       *time.Location
		fullEvery time.Duration
		lastFull  time.Time
		steps     []step
	}{
		{
			name: "first start is a full pass, then the cron", cron: "*/15 * * * *", fullEvery: time.Hour,
			steps: []step{
				{0, []string{"full"}},
				{14 * time.Minute, []string{"full"}},
				{time.Minute, []string{"full", "incremental"}},
				{15 * time.Minute, []string{"full", "incremental", "incremental"}},
				{15 * time.Minute, []string{"full", "incremental", "incremental", "incremental"}},
				// At 01:00 both are due; the full pass covers the incremental.
				{15 * time.Minute, []string{"full", "incremental", "incremental", "incremental", "full"}},
			},
		},
		{
			name: "restart within the period resumes incrementally", cron: "*/15 * * * *", fullEvery: time.Hour,
			lastFull: t0.Add(-10 * time.Minute),
			steps: []step{
				{0, []string{"incremental"}},
				{15 * time.Minute, []string{"incremental", "incremental"}},
				{30 * time.Minute, []string{"incremental", "incremental", "incremental"}},
				// The full pass is due an hour after the last one, at 00:50.
				{5 * time.Minute, []string{"incremental", "incremental", "incremental", "full"}},
			},
		},
		{
			name: "restart after the period does a full pass", cron: "@hourly", fullEvery: time.Hour,
			lastFull: t0.Add(-2 * time.Hour),
			steps:    []step{{0, []string{"full"}}},
		},
		{
			name: "seconds field", cron: "*/30 * * * * *", lastFull: t0.Add(-time.Minute),
			steps: []step{
				{0, []string{"incremental"}},
				{29 * time.Second, []string{"incremental"}},
				{time.Second, []string{"incremental", "incremental"}},
			},
		},
		{
			// 09:00 in New York is 14:00 UTC in January.
			name: "time zone", cron: "0 9 * * *", loc: newYork, lastFull: t0.Add(-time.Minute),
			steps: []step{
				{0, []string{"incremental"}},
				{14*time.Hour - time.Second, []string{"incremental"}},
				{time.Second, []string{"incremental", "incremental"}},
			},
		},
		{
			name: "a clock that jumps fires once", cron: "*/15 * * * *", lastFull: t0.Add(-time.Minute),
			steps: []step{
				{0, []string{"incremental"}},
				{3 * time.Hour, []string{"incremental", "incremental"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := mustCron(t, tc.cron)
				opts.Location, opts.FullEvery, opts.LastFull = tc.loc, tc.fullEvery, tc.lastFull
				e := start(t, opts, nil)
				e.run()
				for i, st := range tc.steps {
					e.advance(st.advance)
					if diff := cmp.Diff(st.want, passes(e.rec.Calls())); diff != "" {
						t.Fatalf("step %d (+%s): passes (-want +got):\n%s", i, st.advance, diff)
					}
				}
				e.stop()
			})
		})
	}
}

func TestNoOverlappingPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		running, most := 0, 0
		rec := &schedtest.Reconciler{PassFunc: func(ctx context.Context, kind schedule.PassKind) (schedule.Result, error) {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			<-release
			mu.Lock()
			running--
			mu.Unlock()
			return schedule.Result{}, nil
		}}
		opts := mustCron(t, "* * * * *")
		opts.LastFull = t0.Add(-time.Second)
		e := start(t, opts, rec)
		e.run()
		// The first pass holds while five more ticks go by.
		for range 5 {
			e.advance(time.Minute)
		}
		if got := len(passes(rec.Calls())); got != 1 {
			t.Fatalf("%d passes started while the first one ran, want 1", got)
		}
		release <- struct{}{}
		synctest.Wait()
		// The missed ticks collapse into one pass.
		if diff := cmp.Diff([]string{"incremental", "incremental"}, passes(rec.Calls())); diff != "" {
			t.Errorf("passes (-want +got):\n%s", diff)
		}
		close(release)
		e.stop()
		if most != 1 {
			t.Errorf("at most %d passes ran at once, want 1", most)
		}
	})
}

func hint(id string) schedule.Hint {
	return schedule.Hint{Provider: "ghl", Kind: "contacts", ID: id}
}

func TestHintCoalescing(t *testing.T) {
	type op struct {
		id   string
		ref  int64
		hold bool // enqueue while the first hint is held in flight
	}
	for _, tc := range []struct {
		name      string
		ops       []op
		wantCalls []string
		wantDone  []string
	}{
		{
			name:      "distinct records each run once, in order",
			ops:       []op{{id: "a", ref: 1}, {id: "b", ref: 2}, {id: "c", ref: 3}},
			wantCalls: []string{"a", "b", "c"},
			wantDone:  []string{"a #1 ok", "b #2 ok", "c #3 ok"},
		},
		{
			name:      "queued duplicates merge",
			ops:       []op{{id: "a", ref: 1}, {id: "b", ref: 2, hold: true}, {id: "b", ref: 3, hold: true}, {id: "b", ref: 4, hold: true}},
			wantCalls: []string{"a", "b"},
			wantDone:  []string{"a #1 ok", "b #2 #3 #4 ok"},
		},
		{
			name:      "a hint for the record in flight runs once more after it",
			ops:       []op{{id: "a", ref: 1}, {id: "a", ref: 2, hold: true}, {id: "a", ref: 3, hold: true}},
			wantCalls: []string{"a", "a"},
			wantDone:  []string{"a #1 ok", "a #2 #3 ok"},
		},
		{
			name:      "hints without an id are never merged",
			ops:       []op{{id: "a", ref: 1}, {id: "", ref: 2, hold: true}, {id: "", ref: 3, hold: true}},
			wantCalls: []string{"a", "", ""},
			wantDone:  []string{"a #1 ok", " #2 ok", " #3 ok"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				first := true
				rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
					if first {
						first = false
						<-gate
					}
					return schedule.Result{}, nil
				}}
				e := start(t, schedule.Options{NoStartPass: true}, rec)
				e.run()
				for _, o := range tc.ops {
					if !o.hold {
						e.enqueue(hint(o.id), o.ref)
						synctest.Wait()
					}
				}
				for _, o := range tc.ops {
					if o.hold {
						e.enqueue(hint(o.id), o.ref)
					}
				}
				close(gate)
				synctest.Wait()
				if diff := cmp.Diff(tc.wantCalls, hintIDs(rec.Hints())); diff != "" {
					t.Errorf("Record calls (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantDone, e.hooks.hintLog()); diff != "" {
					t.Errorf("HintDone (-want +got):\n%s", diff)
				}
				if n := e.s.Len(); n != 0 {
					t.Errorf("Len = %d after the queue drained", n)
				}
				e.stop()
			})
		})
	}
}

func TestMergeKeepsWhatOnlyTheOlderHintKnew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, schedule.Options{NoStartPass: true}, nil)
		// Not running yet, so both stay queued and merge.
		e.enqueue(schedule.Hint{Provider: "ghl", Kind: "tasks", ID: "t1", ParentID: "c1"})
		e.enqueue(schedule.Hint{Provider: "ghl", Kind: "tasks", ID: "t1", Deleted: true})
		e.run()
		want := []schedule.Hint{{Provider: "ghl", Kind: "tasks", ID: "t1", ParentID: "c1", Deleted: true}}
		if diff := cmp.Diff(want, e.rec.Hints()); diff != "" {
			t.Errorf("hints (-want +got):\n%s", diff)
		}
		e.stop()
	})
}

func TestOverloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
			<-gate
			return schedule.Result{}, nil
		}}
		e := start(t, schedule.Options{NoStartPass: true, QueueSize: 2}, rec)
		e.run()
		e.enqueue(hint("a")) // in flight
		synctest.Wait()
		e.enqueue(hint("b"))
		for _, tc := range []struct {
			id   string
			want error
		}{
			{"c", schedule.ErrOverloaded},
			{"b", nil}, // merges into the queued one
			{"a", nil}, // marks the one in flight for another look
		} {
			if err := e.s.Enqueue(hint(tc.id)); !errors.Is(err, tc.want) {
				t.Errorf("Enqueue(%s) = %v, want %v", tc.id, err, tc.want)
			}
		}
		close(gate)
		synctest.Wait()
		if err := e.s.Enqueue(hint("c")); err != nil {
			t.Errorf("Enqueue after the queue drained: %v", err)
		}
		synctest.Wait()
		e.stop()
	})
}

func TestRetry(t *testing.T) {
	errDown := errors.New("api down")
	for _, tc := range []struct {
		name  string
		fails int   // how many calls fail before one succeeds
		err   error // what they fail with
		steps []time.Duration
		want  []string
	}{
		{
			name: "retries with backoff until it works", fails: 2, err: errDown,
			// Backoff is attempt seconds: 1 s after the first failure, 2 s after the second.
			steps: []time.Duration{999 * time.Millisecond, time.Millisecond, 2 * time.Second},
			want:  []string{"a #1 retry", "a #1 retry", "a #1 ok"},
		},
		{
			name: "gives up after MaxAttempts", fails: 10, err: errDown,
			steps: []time.Duration{time.Second, 2 * time.Second, 10 * time.Second},
			want:  []string{"a #1 retry", "a #1 retry", "a #1 gave up"},
		},
		{
			name: "a terminal error is not retried", fails: 10, err: schedule.Terminal(errDown),
			steps: []time.Duration{time.Minute},
			want:  []string{"a #1 gave up"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
					calls++
					if calls <= tc.fails {
						return schedule.Result{}, tc.err
					}
					return schedule.Result{}, nil
				}}
				e := start(t, schedule.Options{NoStartPass: true, MaxAttempts: 3,
					Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }}, rec)
				e.run()
				e.enqueue(hint("a"), 1)
				synctest.Wait()
				for _, d := range tc.steps {
					e.advance(d)
				}
				if diff := cmp.Diff(tc.want, e.hooks.hintLog()); diff != "" {
					t.Errorf("HintDone (-want +got):\n%s", diff)
				}
				e.stop()
			})
		})
	}
}

func TestRetryWaitsNoLongerThanItsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
			calls++
			if calls == 1 {
				return schedule.Result{}, errors.New("flaky")
			}
			return schedule.Result{}, nil
		}}
		// The jitter halves every delay.
		e := start(t, schedule.Options{NoStartPass: true, Backoff: func(int) time.Duration { return 10 * time.Second },
			Jitter: func(d time.Duration) time.Duration { return d / 2 }}, rec)
		e.run()
		e.enqueue(hint("a"))
		synctest.Wait()
		e.advance(4 * time.Second)
		if calls != 1 {
			t.Fatalf("retried after 4s; the jittered backoff is 5s")
		}
		e.advance(time.Second)
		if calls != 2 {
			t.Fatalf("%d calls after 5s, want the retry", calls)
		}
		e.stop()
	})
}

func TestStop(t *testing.T) {
	t.Run("in-flight reconcile finishes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			gate := make(chan struct{})
			var finished bool
			rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
				<-gate
				finished = ctx.Err() == nil
				return schedule.Result{}, nil
			}}
			e := start(t, schedule.Options{NoStartPass: true}, rec)
			e.run()
			e.enqueue(hint("a"))
			e.enqueue(hint("b"))
			synctest.Wait()
			stopped := make(chan error, 1)
			go func() { stopped <- e.s.Stop(context.Background()) }()
			synctest.Wait()
			if err := e.s.Enqueue(hint("c")); !errors.Is(err, schedule.ErrStopped) {
				t.Errorf("Enqueue while stopping = %v, want ErrStopped", err)
			}
			if e.s.Accepting() {
				t.Error("Accepting() is true while stopping")
			}
			close(gate)
			if err := <-stopped; err != nil {
				t.Errorf("Stop: %v", err)
			}
			if err := e.wait(); err != nil {
				t.Errorf("Run: %v", err)
			}
			if !finished {
				t.Error("the in-flight reconcile was cancelled")
			}
			// b was queued, not started: it is left for the next start.
			if diff := cmp.Diff([]string{"a"}, hintIDs(rec.Hints())); diff != "" {
				t.Errorf("Record calls (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("deadline cancels the reconcile", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
				<-ctx.Done()
				return schedule.Result{}, ctx.Err()
			}}
			e := start(t, schedule.Options{NoStartPass: true}, rec)
			e.run()
			e.enqueue(hint("a"), 7)
			synctest.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Stop = %v, want a deadline error", err)
			}
			e.wait()
			// Not final: the persisted event stays pending for the next start.
			if diff := cmp.Diff([]string{"a #7 retry"}, e.hooks.hintLog()); diff != "" {
				t.Errorf("HintDone (-want +got):\n%s", diff)
			}
		})
	})
}

func TestOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := mustCron(t, "* * * * *")
		opts.Once, opts.LastFull = true, t0.Add(-time.Minute)
		e := start(t, opts, nil)
		e.enqueue(hint("a"))
		e.run()
		if err := e.wait(); err != nil {
			t.Errorf("Run: %v", err)
		}
		// The pass and the hint may run in either order.
		if diff := cmp.Diff([]string{"incremental"}, passes(e.rec.Calls())); diff != "" {
			t.Errorf("passes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a"}, hintIDs(e.rec.Hints())); diff != "" {
			t.Errorf("hints (-want +got):\n%s", diff)
		}
	})
}

func TestPanicIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &schedtest.Reconciler{RecordFunc: func(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
			panic("boom")
		}}
		e := start(t, schedule.Options{NoStartPass: true, MaxAttempts: 1}, rec)
		e.run()
		e.enqueue(hint("a"))
		synctest.Wait()
		if diff := cmp.Diff([]string{"a gave up"}, e.hooks.hintLog()); diff != "" {
			t.Errorf("HintDone (-want +got):\n%s", diff)
		}
		e.stop()
	})
}

func TestExponentialBackoff(t *testing.T) {
	b := schedule.ExponentialBackoff(time.Second, 10*time.Second)
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, b(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	for range 100 {
		if d := schedule.HalfJitter(time.Second); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("HalfJitter(1s) = %s, want within [0.5s, 1s]", d)
		}
	}
}
