package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// sensitive stands in for every token value in a dump.
const sensitive = "(sensitive)"

// Dump writes the whole state as indented JSON, for `bellsync state
// dump`. Token values are never written: each token appears only as its
// key mapped to "(sensitive)". Blobs the engine stored as JSON (link
// bases, op intents) are embedded as JSON; anything else as a string, or
// base64 if it is not text. The dump reads one consistent snapshot, and
// its shape is for people, not a stable interchange format.
func (s *SQLite) Dump(ctx context.Context, w io.Writer) error {
	var d dump
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("state: dump: %w", err)
	}
	defer tx.Rollback()
	if err := d.read(ctx, tx); err != nil {
		return fmt.Errorf("state: dump: %w", err)
	}
	tx.Rollback()

	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("state: dump: %w", err)
	}
	return nil
}

type dump struct {
	SchemaVersion int               `json:"schema_version"`
	Locks         []dumpLock        `json:"locks"`
	Runs          []dumpRun         `json:"runs"`
	Cursors       map[string]string `json:"cursors"`
	Links         []dumpLink        `json:"links"`
	Ops           []dumpOp          `json:"ops"`
	Fired         []dumpFired       `json:"fired"`
	Tokens        map[string]string `json:"tokens"`
}

type dumpLock struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	LeaseAt time.Time `json:"lease_at"`
}

type dumpRun struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Status    string         `json:"status"`
	StartedAt time.Time      `json:"started_at"`
	EndedAt   *time.Time     `json:"ended_at,omitempty"`
	Counts    map[string]int `json:"counts,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
}

type dumpLink struct {
	Sync         string    `json:"sync"`
	SourceID     string    `json:"source_id"`
	TargetID     string    `json:"target_id"`
	SourceParent string    `json:"source_parent,omitempty"`
	TargetParent string    `json:"target_parent,omitempty"`
	Status       string    `json:"status"`
	SourceBase   any       `json:"source_base,omitempty"`
	TargetBase   any       `json:"target_base,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type dumpOp struct {
	ID        int64      `json:"id"`
	RunID     string     `json:"run_id"`
	Sync      string     `json:"sync"`
	Action    string     `json:"action"`
	Side      string     `json:"side"`
	Key       string     `json:"key"`
	RecordID  string     `json:"record_id,omitempty"`
	Status    string     `json:"status"`
	Error     string     `json:"error,omitempty"`
	Intent    any        `json:"intent,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

type dumpFired struct {
	Rule      string    `json:"rule"`
	Key       string    `json:"key"`
	CreatedID string    `json:"created_id"`
	FiredAt   time.Time `json:"fired_at"`
}

func (d *dump) read(ctx context.Context, tx *sql.Tx) error {
	var err error
	if d.SchemaVersion, err = schemaVersion(ctx, tx); err != nil {
		return err
	}
	if err := d.readLocks(ctx, tx); err != nil {
		return fmt.Errorf("locks: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT id, kind, started_at, ended_at, counts, errors, status
		FROM runs ORDER BY started_at DESC, rowid DESC`)
	if err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	for _, r := range runs {
		d.Runs = append(d.Runs, dumpRun{ID: r.ID, Kind: r.Kind, Status: r.Status,
			StartedAt: r.StartedAt, EndedAt: optionalTime(r.EndedAt), Counts: r.Counts, Errors: r.Errors})
	}

	if d.Cursors, err = readPairs(ctx, tx, `SELECT name, value FROM cursors ORDER BY name`); err != nil {
		return fmt.Errorf("cursors: %w", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT `+linkColumns+` FROM links ORDER BY sync, source_id`)
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	links, err := scanLinks(rows)
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	for _, l := range links {
		d.Links = append(d.Links, dumpLink{Sync: l.Sync, SourceID: l.SourceID, TargetID: l.TargetID,
			SourceParent: l.SourceParent, TargetParent: l.TargetParent, Status: l.Status,
			SourceBase: readable(l.SourceBase), TargetBase: readable(l.TargetBase),
			CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt})
	}

	rows, err = tx.QueryContext(ctx, `SELECT `+opColumns+` FROM ops ORDER BY id`)
	if err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	ops, err := scanOps(rows)
	if err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	for _, op := range ops {
		d.Ops = append(d.Ops, dumpOp{ID: op.ID, RunID: op.RunID, Sync: op.Sync, Action: op.Action,
			Side: op.Side, Key: op.Key, RecordID: op.RecordID, Status: op.Status, Error: op.Error,
			Intent: readable(op.Intent), StartedAt: op.StartedAt, EndedAt: optionalTime(op.EndedAt)})
	}

	if err := d.readFired(ctx, tx); err != nil {
		return fmt.Errorf("fired: %w", err)
	}

	// Only the keys are selected, so no token value ever enters memory
	// here, let alone the output.
	keys, err := readPairs(ctx, tx, `SELECT key, '' FROM tokens ORDER BY key`)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	d.Tokens = map[string]string{}
	for k := range keys {
		d.Tokens[k] = sensitive
	}
	return nil
}

func (d *dump) readLocks(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, holder, pid, acquired_at, lease_at
		FROM locks ORDER BY name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var l dumpLock
		var since, lease int64
		if err := rows.Scan(&l.Name, &l.Holder, &l.PID, &since, &lease); err != nil {
			return err
		}
		l.Since, l.LeaseAt = fromNanos(since), fromNanos(lease)
		d.Locks = append(d.Locks, l)
	}
	return rows.Err()
}

func (d *dump) readFired(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT rule, key, created_id, fired_at
		FROM fired ORDER BY rule, key`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f dumpFired
		var at int64
		if err := rows.Scan(&f.Rule, &f.Key, &f.CreatedID, &at); err != nil {
			return err
		}
		f.FiredAt = fromNanos(at)
		d.Fired = append(d.Fired, f)
	}
	return rows.Err()
}

func readPairs(ctx context.Context, tx *sql.Tx, query string) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// readable picks the most legible JSON form of an engine-encoded blob.
func readable(b []byte) any {
	switch {
	case len(b) == 0:
		return nil
	case json.Valid(b):
		return json.RawMessage(b)
	case utf8.Valid(b):
		return string(b)
	default:
		return b // encoding/json writes []byte as base64
	}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
