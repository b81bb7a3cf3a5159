package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrTargetLinked is matched (with errors.Is) by a [*TargetLinkedError].
var ErrTargetLinked = errors.New("target record already linked to another source")

// TargetLinkedError reports a link that would tie a second source record to
// a target that is already linked. Syncing both would make each overwrite
// the other, so the store refuses it; the engine should treat it as a
// conflict for a human (usually a duplicate on the source side).
type TargetLinkedError struct {
	Sync     string
	TargetID string
	// SourceID is the source the caller tried to link; LinkedSourceID is
	// the one already linked.
	SourceID       string
	LinkedSourceID string
}

func (e *TargetLinkedError) Error() string {
	return fmt.Sprintf("sync %q: target %q is already linked to source %q, cannot also link source %q",
		e.Sync, e.TargetID, e.LinkedSourceID, e.SourceID)
}

// Is makes errors.Is(err, ErrTargetLinked) hold.
func (e *TargetLinkedError) Is(target error) bool { return target == ErrTargetLinked }

const linkColumns = `sync, source_id, target_id, source_parent, target_parent,
	source_base, target_base, status, created_at, updated_at`

// upsertLink keeps created_at from the existing row: replacing a link's
// content does not make it a new link.
const upsertLink = `INSERT INTO links (` + linkColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (sync, source_id) DO UPDATE SET
		target_id = excluded.target_id,
		source_parent = excluded.source_parent,
		target_parent = excluded.target_parent,
		source_base = excluded.source_base,
		target_base = excluded.target_base,
		status = excluded.status,
		updated_at = excluded.updated_at`

// Links returns every link of a sync, ordered by source id.
func (s *SQLite) Links(ctx context.Context, sync string) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+linkColumns+`
		FROM links WHERE sync = ? ORDER BY source_id`, sync)
	if err != nil {
		return nil, fmt.Errorf("state: links of %s: %w", sync, err)
	}
	links, err := scanLinks(rows)
	if err != nil {
		return nil, fmt.Errorf("state: links of %s: %w", sync, err)
	}
	return links, nil
}

// Link returns the link of one source record, or an error matching
// [ErrNotFound].
func (s *SQLite) Link(ctx context.Context, sync, sourceID string) (Link, error) {
	return s.linkWhere(ctx, "source_id", sync, sourceID)
}

// LinkByTarget returns the link of one target record, or an error matching
// [ErrNotFound]. Webhooks from the target side need it.
func (s *SQLite) LinkByTarget(ctx context.Context, sync, targetID string) (Link, error) {
	return s.linkWhere(ctx, "target_id", sync, targetID)
}

// linkWhere looks a link up by column, which must be a trusted constant.
func (s *SQLite) linkWhere(ctx context.Context, column, sync, id string) (Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+linkColumns+`
		FROM links WHERE sync = ? AND `+column+` = ?`, sync, id)
	if err != nil {
		return Link{}, fmt.Errorf("state: link %s %s: %w", sync, id, err)
	}
	links, err := scanLinks(rows)
	if err != nil {
		return Link{}, fmt.Errorf("state: link %s %s: %w", sync, id, err)
	}
	if len(links) == 0 {
		return Link{}, fmt.Errorf("state: link %s %s: %w", sync, id, ErrNotFound)
	}
	return links[0], nil
}

func scanLinks(rows *sql.Rows) ([]Link, error) {
	defer rows.Close()
	var links []Link
	for rows.Next() {
		var l Link
		var created, updated int64
		err := rows.Scan(&l.Sync, &l.SourceID, &l.TargetID, &l.SourceParent, &l.TargetParent,
			&l.SourceBase, &l.TargetBase, &l.Status, &created, &updated)
		if err != nil {
			return nil, err
		}
		l.CreatedAt, l.UpdatedAt = fromNanos(created), fromNanos(updated)
		links = append(links, l)
	}
	return links, rows.Err()
}

// PutLink inserts or replaces the link keyed by (Sync, SourceID). An empty
// Status means [LinkActive]; zero timestamps mean now, and a replaced link
// keeps its original CreatedAt. Linking a target that another source of
// the same sync already links fails with a [*TargetLinkedError].
func (s *SQLite) PutLink(ctx context.Context, l Link) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		return s.putLink(ctx, tx, l)
	})
	if err != nil {
		return fmt.Errorf("state: put link: %w", err)
	}
	return nil
}

// PutLinks is PutLink for many links in one transaction, which is what
// makes applying thousands of them fast: one fsync instead of one each.
// Either every link is written or, on the first error, none is.
func (s *SQLite) PutLinks(ctx context.Context, links []Link) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		for _, l := range links {
			if err := s.putLink(ctx, tx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: put links: %w", err)
	}
	return nil
}

func (s *SQLite) putLink(ctx context.Context, tx *sql.Tx, l Link) error {
	if l.Sync == "" || l.SourceID == "" {
		return fmt.Errorf("link needs a sync and a source id (got %q, %q)", l.Sync, l.SourceID)
	}
	switch l.Status {
	case "":
		l.Status = LinkActive
	case LinkActive, LinkSuspended, LinkDeleted:
	default:
		return fmt.Errorf("link %s %s: unknown status %q", l.Sync, l.SourceID, l.Status)
	}
	now := s.opts.now()
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = now
	}
	_, err := tx.ExecContext(ctx, upsertLink, l.Sync, l.SourceID, l.TargetID,
		l.SourceParent, l.TargetParent, l.SourceBase, l.TargetBase, l.Status,
		toNanos(l.CreatedAt), toNanos(l.UpdatedAt))
	if err == nil {
		return nil
	}
	var serr *sqlite.Error
	if !errors.As(err, &serr) || serr.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return fmt.Errorf("link %s %s: %w", l.Sync, l.SourceID, err)
	}
	// The primary key is handled by the upsert, so this is the target
	// index. A failed statement does not end the transaction, so the
	// other source can still be read for the message.
	conflict := &TargetLinkedError{Sync: l.Sync, TargetID: l.TargetID, SourceID: l.SourceID}
	tx.QueryRowContext(ctx, `SELECT source_id FROM links WHERE sync = ? AND target_id = ?`,
		l.Sync, l.TargetID).Scan(&conflict.LinkedSourceID)
	return conflict
}

// DeleteLink forgets a link. Forgetting one that does not exist is not an
// error.
func (s *SQLite) DeleteLink(ctx context.Context, sync, sourceID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM links WHERE sync = ? AND source_id = ?`, sync, sourceID)
	if err != nil {
		return fmt.Errorf("state: delete link %s %s: %w", sync, sourceID, err)
	}
	return nil
}
