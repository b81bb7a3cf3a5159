package state

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// WebhookEvent is one webhook delivery the daemon took: persisted before
// it answered 2xx, and settled once the record it names was reconciled.
type WebhookEvent struct {
	Seq int64
	// Source is the route it came in on: "ghl" or "paperbell".
	Source string
	// WebhookID is GHL's delivery id; "" for Paperbell, whose Zaps send
	// none.
	WebhookID string
	// Type is the event type as sent ("ContactCreate", "new_client").
	Type string
	// Provider, Kind, RecordID and ParentID name the record to
	// reconcile; Deleted is set when the event says it was deleted.
	Provider string
	Kind     string
	RecordID string
	ParentID string
	Deleted  bool
	// Fields is the event's record as JSON, for sources that cannot be
	// re-read (Zap events); nil otherwise.
	Fields     []byte
	ReceivedAt time.Time
	// Status is one of the Event* constants.
	Status    string
	Error     string
	SettledAt time.Time
}

// Webhook event statuses.
const (
	// EventPending: taken, not yet reconciled. Replayed at start.
	EventPending = "pending"
	// EventDone: reconciled.
	EventDone = "done"
	// EventFailed: reconciling gave up; the next full pass covers it.
	EventFailed = "failed"
	// EventIgnored: authentic, but of a type bellsync does not act on.
	EventIgnored = "ignored"
)

// PutWebhookEvent records ev (with status EventPending unless it says
// otherwise) and, if it has a WebhookID, that the id was seen, in one
// transaction. If the id was seen before it writes nothing and reports
// dup; the check and the record are one step, so two concurrent
// deliveries of one event cannot both get through.
func (s *SQLite) PutWebhookEvent(ctx context.Context, ev WebhookEvent) (seq int64, dup bool, err error) {
	if ev.Status == "" {
		ev.Status = EventPending
	}
	received := toNanos(s.orNow(ev.ReceivedAt))
	var settled int64
	if ev.Status != EventPending {
		settled = received
	}
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		if ev.WebhookID != "" {
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_seen (id, seen_at) VALUES (?, ?)
				ON CONFLICT (id) DO NOTHING`, ev.WebhookID, received)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				dup = true
				return nil
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_events
			(source, webhook_id, type, provider, kind, record_id, parent_id, deleted, fields,
			 received_at, status, error, settled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)`,
			ev.Source, ev.WebhookID, ev.Type, ev.Provider, ev.Kind, ev.RecordID, ev.ParentID,
			ev.Deleted, ev.Fields, received, ev.Status, settled)
		if err != nil {
			return err
		}
		seq, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("state: put webhook event: %w", err)
	}
	return seq, dup, nil
}

// ForgetWebhookEvent deletes event seq and forgets its webhook id, as if
// it had never arrived. The daemon calls it when it persisted an event
// but then could not queue it and answered 429: GHL sends the same
// webhookId again, which must not then look like a replay.
func (s *SQLite) ForgetWebhookEvent(ctx context.Context, seq int64) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_seen WHERE id IN
			(SELECT webhook_id FROM webhook_events WHERE seq = ? AND webhook_id <> '')`, seq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE seq = ?`, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: forget webhook event %d: %w", seq, err)
	}
	return nil
}

// SettleWebhookEvents sets the status (EventDone or EventFailed) and
// error text of events that are still pending.
func (s *SQLite) SettleWebhookEvents(ctx context.Context, seqs []int64, status, errText string) error {
	if len(seqs) == 0 {
		return nil
	}
	args := []any{status, errText, toNanos(s.opts.now())}
	for _, q := range seqs {
		args = append(args, q)
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")
	_, err := s.db.ExecContext(ctx, `UPDATE webhook_events SET status = ?, error = ?, settled_at = ?
		WHERE status = 'pending' AND seq IN (`+marks+`)`, args...)
	if err != nil {
		return fmt.Errorf("state: settle webhook events: %w", err)
	}
	return nil
}

// PendingWebhookEvents returns up to limit events not yet settled,
// oldest first; limit <= 0 means all.
func (s *SQLite) PendingWebhookEvents(ctx context.Context, limit int) ([]WebhookEvent, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, source, webhook_id, type, provider, kind, record_id,
		parent_id, deleted, fields, received_at, status, error, settled_at
		FROM webhook_events WHERE status = 'pending' ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("state: pending webhook events: %w", err)
	}
	defer rows.Close()
	var out []WebhookEvent
	for rows.Next() {
		var ev WebhookEvent
		var received, settled int64
		if err := rows.Scan(&ev.Seq, &ev.Source, &ev.WebhookID, &ev.Type, &ev.Provider, &ev.Kind,
			&ev.RecordID, &ev.ParentID, &ev.Deleted, &ev.Fields, &received, &ev.Status, &ev.Error, &settled); err != nil {
			return nil, fmt.Errorf("state: pending webhook events: %w", err)
		}
		ev.ReceivedAt, ev.SettledAt = fromNanos(received), fromNanos(settled)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: pending webhook events: %w", err)
	}
	return out, nil
}

// PruneWebhooks forgets webhook ids seen before seenBefore (by then a
// delivery carrying one is rejected as stale anyway) and settled events
// settled before settledBefore. Pending events are always kept.
func (s *SQLite) PruneWebhooks(ctx context.Context, seenBefore, settledBefore time.Time) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_seen WHERE seen_at < ?`, toNanos(seenBefore)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE status <> 'pending' AND settled_at < ?`,
			toNanos(settledBefore))
		return err
	})
	if err != nil {
		return fmt.Errorf("state: prune webhooks: %w", err)
	}
	return nil
}
