package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations build the schema. Entry i takes a file from version i to
// i+1. The list is append-only: a file already at version n never runs
// entries before n again, so editing a shipped entry would leave existing
// files on the old shape.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE links (
	sync          TEXT    NOT NULL,
	source_id     TEXT    NOT NULL,
	target_id     TEXT    NOT NULL,
	source_parent TEXT    NOT NULL DEFAULT '',
	target_parent TEXT    NOT NULL DEFAULT '',
	source_base   BLOB,
	target_base   BLOB,
	status        TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	PRIMARY KEY (sync, source_id)
);
-- Two sources linked to one target would make every sync of either one
-- overwrite the other. An empty target id is not a record yet.
CREATE UNIQUE INDEX links_target ON links (sync, target_id) WHERE target_id <> '';

CREATE TABLE ops (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id     TEXT    NOT NULL,
	sync       TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	side       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	record_id  TEXT    NOT NULL,
	intent     BLOB,
	status     TEXT    NOT NULL,
	error      TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL
);
CREATE INDEX ops_pending ON ops (sync, id) WHERE status = 'pending';

CREATE TABLE fired (
	rule       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	created_id TEXT    NOT NULL,
	fired_at   INTEGER NOT NULL,
	PRIMARY KEY (rule, key)
);

CREATE TABLE cursors (
	name       TEXT    PRIMARY KEY,
	value      TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE runs (
	id         TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL,
	counts     TEXT,
	errors     TEXT,
	status     TEXT    NOT NULL
);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE tokens (
	key        TEXT    PRIMARY KEY,
	data       BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE locks (
	name        TEXT    PRIMARY KEY,
	holder      TEXT    NOT NULL,
	pid         INTEGER NOT NULL,
	acquired_at INTEGER NOT NULL,
	lease_at    INTEGER NOT NULL
);
`,
	// 2: webhook deliveries for `bellsync run`: ids seen (replay
	// protection that survives a restart) and events taken but not yet
	// reconciled (replayed at the next start).
	`
CREATE TABLE webhook_seen (
	id      TEXT    PRIMARY KEY,
	seen_at INTEGER NOT NULL
);
CREATE INDEX webhook_seen_at ON webhook_seen (seen_at);

CREATE TABLE webhook_events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	source      TEXT    NOT NULL,
	webhook_id  TEXT    NOT NULL,
	type        TEXT    NOT NULL,
	provider    TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	record_id   TEXT    NOT NULL,
	parent_id   TEXT    NOT NULL,
	deleted     INTEGER NOT NULL,
	fields      BLOB,
	received_at INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	error       TEXT    NOT NULL,
	settled_at  INTEGER NOT NULL
);
CREATE INDEX webhook_events_pending ON webhook_events (seq) WHERE status = 'pending';
`,
}

// migrate brings db up to len(list). All of it runs in one immediate
// transaction, so two processes opening a new file at once apply each
// step exactly once, and a failed step leaves the file as it was.
func migrate(ctx context.Context, db *sql.DB, list []string, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	_, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(list) {
		return fmt.Errorf("migrate: state schema version %d is newer than this bellsync "+
			"understands (%d); upgrade bellsync", current, len(list))
	}
	for v := current; v < len(list); v++ {
		if _, err := tx.ExecContext(ctx, list[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
			v+1, toNanos(now))
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// schemaVersion reports the highest migration applied to the file.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// querier is what *sql.DB and *sql.Tx have in common for reads.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
