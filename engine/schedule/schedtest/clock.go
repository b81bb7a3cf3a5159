// Package schedtest holds test doubles for the schedule package: a
// [Clock] that moves only when told, and a [Reconciler] that records what
// it was asked to do.
package schedtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/bellsync/bellsync/engine/schedule"
)

var _ schedule.Clock = (*Clock)(nil)

// Clock is a fake [schedule.Clock]. Time stands still until Advance or
// Set moves it; timers whose deadline has been reached then fire, in
// deadline order. It is safe for concurrent use.
type Clock struct {
	// mu guards now and timers.
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements [schedule.Clock].
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer implements [schedule.Clock].
func (c *Clock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d and fires every timer due.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires every timer due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return
	}
	c.now = t
	slices.SortStableFunc(c.timers, func(a, b *timer) int { return a.at.Compare(b.at) })
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(t) {
			keep = append(keep, tm)
			continue
		}
		tm.ch <- tm.at
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// Timers reports how many timers are armed and not yet fired.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type timer struct {
	c  *Clock
	ch chan time.Time
	at time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	return true
}

var _ schedule.Reconciler = (*Reconciler)(nil)

// Call is one call a [Reconciler] received.
type Call struct {
	// Pass is set for Pass calls, Hint for Record calls.
	Pass schedule.PassKind
	Hint schedule.Hint
}

// Reconciler records calls. PassFunc and RecordFunc, when set, decide
// each call's outcome (they may block, to hold a reconcile in flight);
// otherwise calls succeed at once. It is safe for concurrent use.
type Reconciler struct {
	PassFunc   func(ctx context.Context, kind schedule.PassKind) (schedule.Result, error)
	RecordFunc func(ctx context.Context, h schedule.Hint) (schedule.Result, error)

	// mu guards calls.
	mu    sync.Mutex
	calls []Call
}

// Pass implements [schedule.Reconciler].
func (r *Reconciler) Pass(ctx context.Context, kind schedule.PassKind) (schedule.Result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, Call{Pass: kind})
	r.mu.Unlock()
	if r.PassFunc != nil {
		return r.PassFunc(ctx, kind)
	}
	return schedule.Result{Kind: string(kind)}, nil
}

// Record implements [schedule.Reconciler].
func (r *Reconciler) Record(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, Call{Hint: h})
	r.mu.Unlock()
	if r.RecordFunc != nil {
		return r.RecordFunc(ctx, h)
	}
	return schedule.Result{Kind: "webhook"}, nil
}

// Calls returns the calls so far, in order.
func (r *Reconciler) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Hints returns the hints of the Record calls so far, in order.
func (r *Reconciler) Hints() []schedule.Hint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []schedule.Hint
	for _, c := range r.calls {
		if c.Pass == "" {
			out = append(out, c.Hint)
		}
	}
	return out
}

// Reset forgets the calls so far.
func (r *Reconciler) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}
