// Package schedule drives reconciliation for the `bellsync run` daemon: a
// cron schedule for incremental passes, a period for full passes that catch
// drift and deletes, and webhook hints that reconcile one record at a time.
// It decides when to reconcile; what reconciling means is the engine's job,
// behind the [Reconciler] interface.
package schedule

import (
	"context"
	"time"
)

// PassKind says how much a pass reads.
type PassKind string

const (
	// Incremental reads only records changed since the saved cursors.
	Incremental PassKind = "incremental"
	// Full reads everything (and is the only pass that may infer deletes).
	Full PassKind = "full"
)

// Hint names one record an event says changed. It is only a hint: the
// reconciler re-reads the record and diffs it like any other.
type Hint struct {
	// Provider and Kind name the resource ("ghl", "contacts").
	Provider string
	Kind     string
	ID       string
	ParentID string
	// Deleted is set when the event says the record was deleted.
	Deleted bool
	// Fields carries the event's record fields when the source cannot be
	// re-read (a Zapier-posted Paperbell client), else nil.
	Fields map[string]any
}

// Result is what one reconcile did.
type Result struct {
	RunID  string
	Kind   string // "incremental", "full", "webhook"
	Counts map[string]int
	Errors []string
	// Skipped names the records left alone and why (no identifier, an
	// ambiguous identity): not failures of the run, but nothing would
	// tell anyone otherwise.
	Skipped []string
	Started time.Time
	Ended   time.Time
}

// Reconciler is implemented by the engine. Implementations serialise their
// own writes through the state lock; callers may call concurrently.
type Reconciler interface {
	// Pass reconciles every sync. An incremental pass advances each
	// cursor only when it succeeded.
	Pass(ctx context.Context, kind PassKind) (Result, error)
	// Record reconciles the record a hint names, and anything that hangs
	// off it (a contact's tasks and notes), in a handful of API calls.
	Record(ctx context.Context, h Hint) (Result, error)
}
