// Package state is bellsync's memory: which record on one side is which on
// the other (links, with the field snapshots that make diffs three-way), a
// journal of every write so an interrupted apply is recovered without
// duplicates, once-only rule firings, incremental cursors, run history,
// stored OAuth tokens, and a lock so two applies never interleave.
//
// [Store] is the contract; [OpenSQLite] is the embedded default, one file
// beside the config through a pure-Go SQLite driver.
package state

import (
	"context"
	"errors"
	"time"
)

// Link ties a source record to a target record for one sync.
type Link struct {
	Sync     string
	SourceID string
	TargetID string
	// SourceParent and TargetParent are the parent record ids for child
	// kinds (tasks, notes); empty for contacts.
	SourceParent string
	TargetParent string
	// SourceBase and TargetBase are the mapped field values of each side as
	// last written or confirmed by bellsync, encoded by the engine (JSON of
	// cty values with their types). A side whose current values equal its
	// base has not changed since; a value equal to what bellsync wrote is an
	// echo, not an edit.
	SourceBase []byte
	TargetBase []byte
	// Status is "active", "suspended" or "deleted".
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Link statuses.
const (
	LinkActive    = "active"
	LinkSuspended = "suspended"
	LinkDeleted   = "deleted"
)

// Op is one journalled write.
type Op struct {
	ID    int64
	RunID string
	Sync  string
	// Action is the plan action ("create", "update", "delete", ...).
	Action string
	// Side is "source" or "target": which system was written.
	Side string
	// Key identifies the record the write is about (the source record id
	// for creates toward the target), so recovery can find it again.
	Key string
	// RecordID is the written record's id, when known (after a create
	// succeeds, or before an update).
	RecordID string
	// Intent is what was about to be written, encoded by the engine.
	Intent []byte
	// Status is "pending" (intent recorded, outcome unknown), "done" or
	// "failed".
	Status    string
	Error     string
	StartedAt time.Time
	EndedAt   time.Time
}

// Op statuses.
const (
	OpPending = "pending"
	OpDone    = "done"
	OpFailed  = "failed"
)

// Run is one plan/apply/pass recorded for `bellsync runs`.
type Run struct {
	ID        string
	Kind      string // "apply", "incremental", "full", "webhook"
	StartedAt time.Time
	EndedAt   time.Time
	// Counts per outcome ("create", "update", "error", ...).
	Counts map[string]int
	Errors []string
	Status string // "running", "ok", "failed"
}

// ErrLocked is returned by Lock when another process holds the lock and
// the caller asked not to wait (or waited past its deadline).
var ErrLocked = errors.New("state is locked by another bellsync process")

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found in state")

// Store is the state contract. Implementations are safe for concurrent use
// by one process; cross-process safety comes from Lock.
type Store interface {
	// Links returns every link of a sync, in no particular order.
	Links(ctx context.Context, sync string) ([]Link, error)
	// PutLink inserts or replaces the link keyed by (Sync, SourceID).
	PutLink(ctx context.Context, l Link) error
	// DeleteLink forgets a link.
	DeleteLink(ctx context.Context, sync, sourceID string) error

	// BeginOp records an intent before a write and returns its id.
	BeginOp(ctx context.Context, op Op) (int64, error)
	// FinishOp records the outcome of a write: status OpDone or OpFailed,
	// the record id it produced, and an error text for failures.
	FinishOp(ctx context.Context, id int64, status, recordID, errText string) error
	// PendingOps lists writes whose outcome was never recorded (a crash or
	// kill mid-apply), oldest first.
	PendingOps(ctx context.Context, sync string) ([]Op, error)

	// Fired reports whether a once-only rule already fired for key.
	Fired(ctx context.Context, rule, key string) (bool, error)
	// MarkFired records that a rule fired for key, with the id it created.
	// It returns false if the rule had already fired (the row existed).
	MarkFired(ctx context.Context, rule, key, createdID string) (bool, error)

	// Cursor returns a saved incremental cursor, or "" if none.
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error

	// StartRun, FinishRun and Runs keep run history.
	StartRun(ctx context.Context, r Run) error
	FinishRun(ctx context.Context, r Run) error
	Runs(ctx context.Context, limit int) ([]Run, error)

	// LoadToken and SaveToken persist credentials that rotate (OAuth).
	// SaveToken is durable when it returns.
	LoadToken(ctx context.Context, key string) ([]byte, error)
	SaveToken(ctx context.Context, key string, data []byte) error

	// Lock takes the named exclusive lock across processes. With wait, it
	// retries until ctx ends; without, it fails at once with ErrLocked. The
	// returned func releases it.
	Lock(ctx context.Context, name string, wait bool) (unlock func() error, err error)

	Close() error
}
