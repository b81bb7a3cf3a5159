package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bellsync/bellsync/providers"
)

// BeginOp records op as pending and returns its id. Its ID and Status are
// ignored; a zero StartedAt means now.
func (s *SQLite) BeginOp(ctx context.Context, op Op) (int64, error) {
	if op.Sync == "" || op.Action == "" {
		return 0, fmt.Errorf("state: begin op: op needs a sync and an action (got %q, %q)", op.Sync, op.Action)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO ops
		(run_id, sync, action, side, key, record_id, intent, status, error, started_at, ended_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, 0)`,
		op.RunID, op.Sync, op.Action, op.Side, op.Key, op.RecordID, op.Intent, OpPending,
		toNanos(s.orNow(op.StartedAt)))
	if err != nil {
		return 0, fmt.Errorf("state: begin op: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("state: begin op: %w", err)
	}
	return id, nil
}

// FinishOp records the outcome of a pending op. An empty recordID keeps
// the one given to BeginOp. Finishing an op twice is an error, since it
// means two writers believe they own the same write.
func (s *SQLite) FinishOp(ctx context.Context, id int64, status, recordID, errText string) error {
	if status != OpDone && status != OpFailed {
		return fmt.Errorf("state: finish op %d: status must be %q or %q, not %q", id, OpDone, OpFailed, status)
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ops SET status = ?,
			record_id = CASE WHEN ? = '' THEN record_id ELSE ? END,
			error = ?, ended_at = ?
			WHERE id = ? AND status = ?`,
			status, recordID, recordID, errText, toNanos(s.opts.now()), id, OpPending)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var current string
		err = tx.QueryRowContext(ctx, `SELECT status FROM ops WHERE id = ?`, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("already finished as %q", current)
	})
	if err != nil {
		return fmt.Errorf("state: finish op %d: %w", id, err)
	}
	return nil
}

// PendingOps lists the ops of a sync that were begun and never finished,
// in the order they were begun.
func (s *SQLite) PendingOps(ctx context.Context, sync string) ([]Op, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+opColumns+` FROM ops
		WHERE sync = ? AND status = ? ORDER BY id`, sync, OpPending)
	if err != nil {
		return nil, fmt.Errorf("state: pending ops of %s: %w", sync, err)
	}
	ops, err := scanOps(rows)
	if err != nil {
		return nil, fmt.Errorf("state: pending ops of %s: %w", sync, err)
	}
	return ops, nil
}

const opColumns = `id, run_id, sync, action, side, key, record_id, intent, status, error,
	started_at, ended_at`

func scanOps(rows *sql.Rows) ([]Op, error) {
	defer rows.Close()
	var ops []Op
	for rows.Next() {
		var op Op
		var started, ended int64
		err := rows.Scan(&op.ID, &op.RunID, &op.Sync, &op.Action, &op.Side, &op.Key,
			&op.RecordID, &op.Intent, &op.Status, &op.Error, &started, &ended)
		if err != nil {
			return nil, err
		}
		op.StartedAt, op.EndedAt = fromNanos(started), fromNanos(ended)
		ops = append(ops, op)
	}
	return ops, rows.Err()
}

// Fired reports whether rule already fired for key.
func (s *SQLite) Fired(ctx context.Context, rule, key string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM fired WHERE rule = ? AND key = ?`,
		rule, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("state: fired %s %s: %w", rule, key, err)
	}
	return n > 0, nil
}

// MarkFired records that rule fired for key. It is one INSERT OR IGNORE,
// so of any number of concurrent callers, in any number of processes,
// exactly one gets true.
func (s *SQLite) MarkFired(ctx context.Context, rule, key, createdID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO fired (rule, key, created_id, fired_at)
		VALUES (?, ?, ?, ?)`, rule, key, createdID, toNanos(s.opts.now()))
	if err != nil {
		return false, fmt.Errorf("state: mark fired %s %s: %w", rule, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("state: mark fired %s %s: %w", rule, key, err)
	}
	return n == 1, nil
}

// Cursor returns the saved cursor called name, or "" if there is none.
func (s *SQLite) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("state: cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor saves the cursor called name.
func (s *SQLite) SetCursor(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, toNanos(s.opts.now()))
	if err != nil {
		return fmt.Errorf("state: set cursor %s: %w", name, err)
	}
	return nil
}

// Run statuses as the store writes them.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// StartRun records a new run. A zero StartedAt means now and an empty
// Status means [RunRunning]. Starting a run id twice is an error.
func (s *SQLite) StartRun(ctx context.Context, r Run) error {
	if r.ID == "" {
		return errors.New("state: start run: run needs an id")
	}
	if r.Status == "" {
		r.Status = RunRunning
	}
	counts, errs, err := encodeRunResults(r)
	if err != nil {
		return fmt.Errorf("state: start run %s: %w", r.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO runs
		(id, kind, started_at, ended_at, counts, errors, status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Kind, toNanos(s.orNow(r.StartedAt)), toNanos(r.EndedAt), counts, errs, r.Status)
	if err != nil {
		return fmt.Errorf("state: start run %s: %w", r.ID, err)
	}
	return nil
}

// FinishRun records the end of a started run: its EndedAt (zero means
// now), Counts, Errors and Status. An empty Status means [RunFailed] if
// there are Errors and [RunOK] otherwise. Kind and StartedAt are kept
// from StartRun.
func (s *SQLite) FinishRun(ctx context.Context, r Run) error {
	if r.Status == "" {
		r.Status = RunOK
		if len(r.Errors) > 0 {
			r.Status = RunFailed
		}
	}
	counts, errs, err := encodeRunResults(r)
	if err != nil {
		return fmt.Errorf("state: finish run %s: %w", r.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET ended_at = ?, counts = ?, errors = ?, status = ?
		WHERE id = ?`, toNanos(s.orNow(r.EndedAt)), counts, errs, r.Status, r.ID)
	if err != nil {
		return fmt.Errorf("state: finish run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("state: finish run %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("state: finish run %s: %w", r.ID, ErrNotFound)
	}
	return nil
}

// encodeRunResults stores nil Counts and Errors as NULL so they read back
// as nil rather than as empty values.
func encodeRunResults(r Run) (counts, errs []byte, err error) {
	if r.Counts != nil {
		if counts, err = json.Marshal(r.Counts); err != nil {
			return nil, nil, err
		}
	}
	if r.Errors != nil {
		if errs, err = json.Marshal(r.Errors); err != nil {
			return nil, nil, err
		}
	}
	return counts, errs, nil
}

// Runs returns the most recent runs, newest first; limit <= 0 means all.
func (s *SQLite) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, started_at, ended_at, counts, errors, status
		FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return runs, nil
}

func scanRuns(rows *sql.Rows) ([]Run, error) {
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var r Run
		var started, ended int64
		var counts, errs []byte
		if err := rows.Scan(&r.ID, &r.Kind, &started, &ended, &counts, &errs, &r.Status); err != nil {
			return nil, err
		}
		r.StartedAt, r.EndedAt = fromNanos(started), fromNanos(ended)
		if counts != nil {
			if err := json.Unmarshal(counts, &r.Counts); err != nil {
				return nil, fmt.Errorf("run %s counts: %w", r.ID, err)
			}
		}
		if errs != nil {
			if err := json.Unmarshal(errs, &r.Errors); err != nil {
				return nil, fmt.Errorf("run %s errors: %w", r.ID, err)
			}
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// LoadToken returns the token saved under key, or an error matching both
// [ErrNotFound] and [providers.ErrNotFound], so that token sources, which
// know only the providers contract, can tell "never connected" from a
// failing database.
func (s *SQLite) LoadToken(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM tokens WHERE key = ?`, key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tokenNotFound{key: key}
	}
	if err != nil {
		return nil, fmt.Errorf("state: load token %s: %w", key, err)
	}
	return data, nil
}

// tokenNotFound is LoadToken's answer for a missing key.
type tokenNotFound struct{ key string }

func (e tokenNotFound) Error() string {
	return fmt.Sprintf("state: load token %s: %v", e.key, ErrNotFound)
}

// Is matches the state and the providers sentinels.
func (e tokenNotFound) Is(target error) bool {
	return target == ErrNotFound || target == providers.ErrNotFound
}

// SaveToken saves data under key. It is on disk when SaveToken returns,
// because every connection runs with synchronous=FULL: in WAL mode the
// commit fsyncs the log before returning. That matters because OAuth
// refresh tokens rotate; losing the new one to a crash locks bellsync out.
func (s *SQLite) SaveToken(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (key, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		key, data, toNanos(s.opts.now()))
	if err != nil {
		return fmt.Errorf("state: save token %s: %w", key, err)
	}
	return nil
}
