package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bellsync/bellsync/providers"
)

// listProgressEvery is how often a listing in progress says how far it
// has got. Against real rate limits a full read takes minutes, and a plan
// that prints nothing for that long looks hung.
const listProgressEvery = 5 * time.Second

// listLogged wraps the resource a sync's diff lists, so long listings are
// logged at info level: how many records so far, and when done, how many
// in how long. It changes nothing else; the resource's other methods pass
// straight through.
type listLogged struct {
	providers.Resource
	p *listProgress
}

func newListLogged(r providers.Resource, log *slog.Logger, sync, kind string) providers.Resource {
	return listLogged{Resource: r, p: &listProgress{log: log, sync: sync, kind: kind, every: listProgressEvery, now: time.Now}}
}

func (l listLogged) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	l.p.begin(ctx, opts.ParentID == "")
	defer l.p.end(ctx, opts.ParentID == "")
	stop := l.p.watch(ctx)
	defer stop()
	return l.Resource.List(ctx, opts, func(rec providers.Record) error {
		l.p.record(ctx)
		return fn(rec)
	})
}

// listProgress counts one read of a kind. A child kind is read with a
// listing per parent, so the count runs across calls: a call that starts
// within one interval of the last one's end continues the same read.
type listProgress struct {
	log        *slog.Logger
	sync, kind string
	every      time.Duration
	now        func() time.Time

	// mu guards the fields below.
	mu      sync.Mutex
	active  int
	records int
	calls   int
	began   time.Time
	ended   time.Time
	logged  time.Time // last progress line, or began
	noisy   bool      // a progress line was written for this read
}

// begin opens one call; whole says it lists the kind entirely, which is a
// read of its own, never the continuation of the one before (an apply
// lists again right after its plan did).
func (p *listProgress) begin(ctx context.Context, whole bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	if p.active == 0 && (whole || p.began.IsZero() || t.Sub(p.ended) > p.every) {
		p.records, p.calls, p.began, p.logged, p.noisy = 0, 0, t, t, false
	}
	p.active++
	p.calls++
	p.maybeLog(ctx, t)
}

func (p *listProgress) record(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records++
	p.maybeLog(ctx, p.now())
}

// end closes one call. A whole listing (not one parent's) that took long
// enough to report progress also reports its total.
func (p *listProgress) end(ctx context.Context, whole bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	p.active--
	p.ended = t
	if whole && p.active == 0 && p.noisy {
		p.log.LogAttrs(ctx, slog.LevelInfo, "listed", slog.String("sync", p.sync), slog.String("kind", p.kind),
			slog.Int("records", p.records), slog.Duration("duration", t.Sub(p.began).Round(time.Second)))
	}
}

// watch reports progress while a call is stalled between pages (waiting
// on a rate limit), when no record arrives to prompt it. The returned stop
// waits for the watcher, so nothing is logged after List returns.
func (p *listProgress) watch(ctx context.Context) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(p.every / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				p.mu.Lock()
				p.maybeLog(ctx, p.now())
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done); <-exited }
}

// maybeLog writes a progress line when an interval has passed since the
// last one. Callers hold mu.
func (p *listProgress) maybeLog(ctx context.Context, t time.Time) {
	if t.Sub(p.logged) < p.every {
		return
	}
	p.logged, p.noisy = t, true
	attrs := []slog.Attr{slog.String("sync", p.sync), slog.String("kind", p.kind),
		slog.Int("records", p.records), slog.Duration("elapsed", t.Sub(p.began).Round(time.Second))}
	if p.calls > 1 {
		// A child kind: one listing per parent.
		attrs = append(attrs, slog.Int("listings", p.calls))
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "listing", attrs...)
}
