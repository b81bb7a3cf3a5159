package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLockHeld(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	clock := newClock(t0)
	a := openAt(t, path, WithClock(clock.Now))
	b := openAt(t, path, WithClock(clock.Now))

	unlock, err := a.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	clock.Advance(5 * time.Second)

	tests := []struct {
		name  string
		store *SQLite
		lock  string
		held  bool
	}{
		{"same handle", a, "apply", true},
		{"other handle", b, "apply", true},
		{"other name", b, "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.store.Lock(ctx, tt.lock, false)
			if !tt.held {
				if err != nil {
					t.Fatalf("Lock: %v", err)
				}
				if err := u(); err != nil {
					t.Errorf("unlock: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("Lock error = %v, want ErrLocked", err)
			}
			want := fmt.Sprintf("state is locked by another bellsync process (pid %d, since 14:02:11 UTC); "+
				"wait for it to finish, or pass -lock-wait to wait for it", os.Getpid())
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}

	if err := unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	u, err := b.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	u()
}

func TestLockOutlivesItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a, b := openAt(t, path), openAt(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	unlock, err := a.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := b.Lock(context.Background(), "apply", false); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock after the holder's ctx ended: error = %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("unlock: %v", err)
	}
}

func TestLockWaits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	polled := make(chan struct{}, 1)
	notify := func(o *options) {
		o.polled = func() {
			select {
			case polled <- struct{}{}:
			default:
			}
		}
	}
	a := openAt(t, path)
	b := openAt(t, path, WithPollInterval(time.Millisecond), notify)

	unlock, err := a.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(ctx, "apply", true)
		if err == nil {
			err = u()
		}
		got <- err
	}()
	// Release only once the waiter has seen the lock held at least once.
	<-polled
	select {
	case err := <-got:
		t.Fatalf("waiting Lock returned while the lock was held: %v", err)
	default:
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Errorf("waiting Lock: %v", err)
	}
}

func TestLockWaitGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a := openAt(t, path)
	b := openAt(t, path, WithPollInterval(time.Millisecond))
	unlock, err := a.Lock(context.Background(), "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	ctx, cancel := context.WithCancel(context.Background())
	b.opts.polled = cancel // give up after the first failed attempt
	_, err = b.Lock(ctx, "apply", true)
	for _, want := range []error{ErrLocked, context.Canceled} {
		if !errors.Is(err, want) {
			t.Errorf("Lock error = %v, want it to match %v", err, want)
		}
	}
	if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("Lock error %q does not name the holder's pid", err)
	}
}

func TestLockStaleTakeover(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	deadClock, clock := newClock(t0), newClock(t0)
	// dead takes the lock and then never refreshes it: its clock stands
	// still, as if the process had died at t0.
	dead := openAt(t, path, WithClock(deadClock.Now), WithLease(30*time.Second))
	live := openAt(t, path, WithClock(clock.Now), WithLease(30*time.Second))

	deadUnlock, err := dead.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		wantErr error
	}{
		{advance: 10 * time.Second, wantErr: ErrLocked},
		{advance: 20 * time.Second, wantErr: ErrLocked}, // exactly the lease: still valid
		{advance: time.Second, wantErr: nil},
	}
	var liveUnlock func() error
	for _, st := range steps {
		clock.Advance(st.advance)
		t.Run(fmt.Sprintf("at +%v", clock.Now().Sub(t0)), func(t *testing.T) {
			u, err := live.Lock(ctx, "apply", false)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("Lock error = %v, want %v", err, st.wantErr)
			}
			if err == nil {
				liveUnlock = u
			}
		})
	}
	if liveUnlock == nil {
		t.Fatal("the stale lease was never taken over")
	}
	if err := deadUnlock(); !errors.Is(err, ErrLockLost) {
		t.Errorf("unlock by the old holder: error = %v, want ErrLockLost", err)
	}
	if err := liveUnlock(); err != nil {
		t.Errorf("unlock by the new holder: %v", err)
	}
}

func TestLockTakeoverRace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	dead := openAt(t, path, WithClock(newClock(t0).Now))
	if _, err := dead.Lock(ctx, "apply", false); err != nil {
		t.Fatal(err)
	}

	// Many callers on several handles find the same stale lease at once.
	later := newClock(t0.Add(time.Hour))
	var stores []*SQLite
	for range 4 {
		stores = append(stores, openAt(t, path, WithClock(later.Now)))
	}
	const callers = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners int
	var unexpected []error
	for i := range callers {
		wg.Go(func() {
			_, err := stores[i%len(stores)].Lock(ctx, "apply", false)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, ErrLocked):
				unexpected = append(unexpected, err)
			}
		})
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Errorf("unexpected errors: %v", unexpected)
	}
	if winners != 1 {
		t.Errorf("%d callers took the lock, want exactly 1", winners)
	}
}

func TestLockRefreshKeepsLease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	clock := newClock(t0)
	// A tiny lease makes the refresh goroutine tick quickly; time as the
	// store sees it only moves when the test says so.
	holder := openAt(t, path, WithClock(clock.Now), WithLease(30*time.Millisecond))
	other := openAt(t, path, WithClock(clock.Now), WithLease(30*time.Millisecond))
	unlock, err := holder.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	clock.Advance(time.Hour)
	waitFor(t, func() bool {
		var lease int64
		err := other.db.QueryRowContext(ctx, `SELECT lease_at FROM locks WHERE name = 'apply'`).Scan(&lease)
		return err == nil && fromNanos(lease).Equal(clock.Now())
	})
	if _, err := other.Lock(ctx, "apply", false); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock on a refreshed lease: error = %v, want ErrLocked", err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound. It waits for a background goroutine's effect, not for time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseReleasesLocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	a, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lock(ctx, "apply", false); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b := openAt(t, path)
	u, err := b.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatalf("Lock after the holder closed: %v", err)
	}
	u()
}
