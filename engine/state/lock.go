package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrLockLost is returned by an unlock func when the lock's lease ran out
// and another process took it over while this one still believed it held
// it: the two may have interleaved writes.
var ErrLockLost = errors.New("lock was taken over by another process after its lease expired")

// LockedError says who holds a lock that [SQLite.Lock] could not take. It
// matches [ErrLocked] with errors.Is, and also the context error when a
// waiting Lock gave up.
type LockedError struct {
	Name string
	// Holder identifies the holding Lock call; PID is its process.
	Holder string
	PID    int
	Since  time.Time
	// Err is why a waiting Lock stopped (the context's error), or nil
	// when the caller asked not to wait.
	Err error
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("%v (pid %d, since %s UTC)", ErrLocked, e.PID, e.Since.UTC().Format(time.TimeOnly))
	if e.Err != nil {
		return msg + "; gave up waiting: " + e.Err.Error()
	}
	return msg + "; wait for it to finish, or pass -lock-wait to wait for it"
}

func (e *LockedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrLocked}
	}
	return []error{ErrLocked, e.Err}
}

// heldLock is one successful Lock call.
type heldLock struct {
	name   string
	holder string
	// stop ends the refresh goroutine, which closes done when it has.
	stop context.CancelFunc
	done chan struct{}

	once sync.Once
	err  error // the outcome of the first release
}

// Lock takes the named lock, which excludes every other Lock call on the
// same file and name, in this process or another; it is not reentrant.
//
// The lock is a row holding the caller's pid and a lease timestamp that a
// goroutine refreshes while the lock is held. A process that dies stops
// refreshing, and once its lease is older than the lease length (see
// [WithLease]) the next Lock takes the lock over. Unlike an OS file lock
// this works the same on every platform and over every filesystem SQLite
// itself works on, and `bellsync state dump` can show who holds it.
//
// Without wait, a held lock fails at once with a [*LockedError]. With
// wait, Lock polls (see [WithPollInterval]) until it succeeds or ctx ends,
// and then returns a [*LockedError] wrapping ctx's error. ctx only bounds
// the acquisition: the lock is held until unlock is called or the store
// is closed. unlock returns an error matching [ErrLockLost] if the lease
// was taken over meanwhile; calling it again returns the same result.
func (s *SQLite) Lock(ctx context.Context, name string, wait bool) (unlock func() error, err error) {
	holder := fmt.Sprintf("%s/%d-%s", hostname(), os.Getpid(), rand.Text())
	var timer *time.Timer
	for {
		locked, err := s.tryLock(ctx, name, holder)
		if err != nil {
			return nil, fmt.Errorf("state: lock %s: %w", name, err)
		}
		if locked == nil {
			break
		}
		if !wait {
			return nil, locked
		}
		if s.opts.polled != nil {
			s.opts.polled()
		}
		if timer == nil {
			timer = time.NewTimer(s.opts.pollInterval)
			defer timer.Stop()
		} else {
			timer.Reset(s.opts.pollInterval)
		}
		select {
		case <-ctx.Done():
			locked.Err = ctx.Err()
			return nil, locked
		case <-timer.C:
		}
	}

	// The refresh must outlive ctx: a caller's deadline for getting the
	// lock is not a deadline for holding it.
	refreshCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := &heldLock{name: name, holder: holder, stop: stop, done: make(chan struct{})}
	s.mu.Lock()
	s.held[h] = struct{}{}
	s.mu.Unlock()
	go s.refresh(refreshCtx, h)
	return func() error { return s.release(h) }, nil
}

// tryLock takes the lock if it is free or its lease is stale, and
// otherwise says who holds it. The read and the write run in one
// immediate transaction, which holds SQLite's write lock from the start,
// so of two processes racing for a stale lease only one can win.
func (s *SQLite) tryLock(ctx context.Context, name, holder string) (*LockedError, error) {
	var locked *LockedError
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var cur LockedError
		var since, lease int64
		err := tx.QueryRowContext(ctx, `SELECT holder, pid, acquired_at, lease_at FROM locks WHERE name = ?`,
			name).Scan(&cur.Holder, &cur.PID, &since, &lease)
		now := s.opts.now()
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case now.Sub(fromNanos(lease)) <= s.opts.lease && !deadHolder(cur.Holder, cur.PID):
			cur.Name, cur.Since = name, fromNanos(since)
			locked = &cur
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO locks (name, holder, pid, acquired_at, lease_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
				acquired_at = excluded.acquired_at, lease_at = excluded.lease_at`,
			name, holder, os.Getpid(), toNanos(now), toNanos(now))
		return err
	})
	return locked, err
}

// refresh renews h's lease every third of the lease length, so that two
// missed renewals (a busy database, a paused VM) still do not lose it.
func (s *SQLite) refresh(ctx context.Context, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.opts.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := s.db.ExecContext(ctx, `UPDATE locks SET lease_at = ? WHERE name = ? AND holder = ?`,
			toNanos(s.opts.now()), h.name, h.holder)
		if err != nil {
			continue // most likely transient; the next tick retries in time
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return // taken over; release reports it
		}
	}
}

// release stops refreshing h and deletes its row, once.
func (s *SQLite) release(h *heldLock) error {
	h.once.Do(func() {
		h.stop()
		<-h.done
		s.mu.Lock()
		delete(s.held, h)
		s.mu.Unlock()

		// unlock has no ctx; the busy timeout bounds how long this waits.
		res, err := s.db.ExecContext(context.Background(),
			`DELETE FROM locks WHERE name = ? AND holder = ?`, h.name, h.holder)
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n == 0 {
				err = ErrLockLost
			}
		}
		if err != nil {
			h.err = fmt.Errorf("state: unlock %s: %w", h.name, err)
		}
	})
	return h.err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

// deadHolder reports whether a lock's holder is a process on this machine
// that no longer exists (killed with SIGKILL, say), so its lease need not
// be waited out. A holder on another host, or one we cannot check, is
// presumed alive until its lease expires.
func deadHolder(holder string, pid int) bool {
	host, _, ok := strings.Cut(holder, "/")
	if !ok || host != hostname() || pid <= 0 || pid == os.Getpid() {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
