package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, no cgo
)

var _ Store = (*SQLite)(nil)

// SQLite is the embedded [Store]: one database file, opened through the
// pure-Go modernc.org/sqlite driver. It is safe for concurrent use by many
// goroutines. Several processes may open the same file; they serialise
// their writes through SQLite's own file locking and coordinate whole
// applies through [SQLite.Lock].
//
// Every connection runs with synchronous=FULL, so any method that writes
// has reached the disk when it returns without error. That costs an fsync
// per commit, which is why bulk link writes go through [SQLite.PutLinks].
type SQLite struct {
	db   *sql.DB
	path string
	opts options

	// mu guards held.
	mu sync.Mutex
	// held lists the locks this handle holds, so Close can release them.
	held map[*heldLock]struct{}
}

// Option adjusts [OpenSQLite].
type Option func(*options)

type options struct {
	now          func() time.Time
	lease        time.Duration
	pollInterval time.Duration
	busyTimeout  time.Duration
	// polled, if set, runs each time a waiting Lock is about to sleep;
	// tests use it to know the waiter really found the lock held.
	polled func()
}

// WithClock replaces time.Now for every timestamp the store records,
// lock leases included. Tests use it to age a lease without sleeping.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLease sets how long a lock stays valid without being refreshed; a
// lock whose lease is older is taken to belong to a process that died,
// and may be taken over. The holder refreshes it every third of this.
// The default is 30 seconds.
func WithLease(d time.Duration) Option {
	return func(o *options) { o.lease = d }
}

// WithPollInterval sets how often a waiting [SQLite.Lock] retries. The
// default is one second.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.pollInterval = d }
}

// WithBusyTimeout sets how long one statement waits for another
// connection's write to finish before failing. The default is 5 seconds.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// OpenSQLite opens the state file at path, creating it and its parent
// directories when missing, and brings its schema up to date. New
// directories get mode 0700 and a new file 0600, because the file holds
// OAuth tokens. The caller must Close the returned store.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	o := options{
		now:          time.Now,
		lease:        30 * time.Second,
		pollInterval: time.Second,
		busyTimeout:  5 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.lease <= 0 || o.pollInterval <= 0 || o.busyTimeout <= 0 {
		return nil, fmt.Errorf("state: open %s: lease, poll interval and busy timeout must be positive", path)
	}
	// The driver reads everything after a '?' as its own parameters.
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("state: open %s: path must not contain '?'", path)
	}
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}

	// txlock=immediate makes every read-write transaction take SQLite's
	// write lock at BEGIN, so a read-then-write (the lock take-over)
	// cannot interleave with another process doing the same, and nobody
	// fails half-way with SQLITE_BUSY on upgrading a read lock.
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL"+
		"&_foreign_keys=1&_txlock=immediate", path, o.busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s := &SQLite{db: db, path: path, opts: o, held: map[*heldLock]struct{}{}}
	if err := migrate(ctx, db, migrations, o.now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return s, nil
}

// createFile makes sure path exists before SQLite opens it, so the file
// gets our mode rather than one derived from the umask. SQLite gives the
// -wal and -shm files beside it the same mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Path returns the file the store was opened on.
func (s *SQLite) Path() string { return s.path }

// Close releases every lock this handle still holds and closes the
// database. The store must not be used afterwards.
func (s *SQLite) Close() error {
	s.mu.Lock()
	held := make([]*heldLock, 0, len(s.held))
	for h := range s.held {
		held = append(held, h)
	}
	s.mu.Unlock()

	var errs []error
	for _, h := range held {
		if err := s.release(h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("state: close %s: %w", s.path, err))
	}
	return errors.Join(errs...)
}

// withTx runs fn in one read-write transaction and commits if fn
// succeeds.
func (s *SQLite) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Timestamps are stored as Unix nanoseconds, with 0 for the zero time, so
// they sort as integers and come back exactly as written.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// orNow returns t, or the store's clock if t is the zero time.
func (s *SQLite) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.now()
	}
	return t
}
