package views

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The webhook delivery log (webhook_messages, webhook_attempts) is the
// webhook projection's: it queues a message per matching event and
// records every attempt. Two admin actions write it as well, here: queuing
// messages again and queuing a test message. Both answer the admin with
// what they queued, so they write at once rather than through an event
// the projection would apply later; each wakes the dispatcher on
// WebhookWakeChannel in its transaction.

// WebhookWakeChannel is the Postgres notification channel that wakes the
// webhook dispatcher when messages become due; projections/webhooks
// listens on the same name.
const WebhookWakeChannel = "leadsvc_webhooks"

// ErrNoMessage: a redelivery named a delivery or event the subscription
// has no message for.
var ErrNoMessage = errors.New("no such message")

// Delivery is one attempt to deliver a message: the delivery log.
type Delivery struct {
	ID              int64
	WebhookID       uuid.UUID
	EventID         uuid.UUID // the webhook-id header, the same on every attempt
	EventType       string
	LeadID          *uuid.UUID
	LeadVersion     int64
	Attempt         int
	AttemptedAt     time.Time
	StatusCode      *int
	DurationMS      float64
	ResponseExcerpt string
	Error           string
	Success         bool
	State           string     // the message's state now: pending, delivered, failed, skipped
	NextAttemptAt   *time.Time // when a pending message is tried next
}

// Deliveries returns a page of a subscription's delivery log, newest
// first: at most limit attempts older than the attempt before (0: from
// the newest).
func (v *Views) Deliveries(ctx context.Context, webhookID uuid.UUID, before int64, limit int) ([]Delivery, error) {
	rows, err := v.pool.Query(ctx, deliveryColumns+`
		WHERE a.webhook_id = $1 AND ($2 = 0 OR a.id < $2)
		ORDER BY a.id DESC LIMIT $3`, webhookID, before, limit)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows)
}

// LeadDeliveries returns every attempt to deliver a message about a lead
// of the account, to any of its subscriptions, oldest first.
func (v *Views) LeadDeliveries(ctx context.Context, accountID, leadID uuid.UUID) ([]Delivery, error) {
	rows, err := v.pool.Query(ctx, deliveryColumns+`
		JOIN webhooks w ON w.id = m.webhook_id
		WHERE m.lead_id = $1 AND w.account_id = $2
		ORDER BY a.id`, leadID, accountID)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows)
}

// deliveryColumns selects what scanDeliveries reads: attempts a, their
// messages m.
const deliveryColumns = `SELECT a.id, a.webhook_id, m.msg_id, m.event_type, m.lead_id, m.lead_version, a.attempt, a.attempted_at,
			a.status_code, a.duration_ms, coalesce(a.response_excerpt, ''), coalesce(a.error, ''), a.success, m.state,
			CASE WHEN m.state = 'pending' AND m.next_attempt_at > '-infinity' THEN m.next_attempt_at END
		FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id`

func scanDeliveries(rows pgx.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.LeadID, &d.LeadVersion, &d.Attempt, &d.AttemptedAt,
			&d.StatusCode, &d.DurationMS, &d.ResponseExcerpt, &d.Error, &d.Success, &d.State, &d.NextAttemptAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Redelivery names the messages of a subscription to send again: those
// of events recorded at or after Since, or the one of attempt DeliveryID,
// or of event EventID.
type Redelivery struct {
	WebhookID  uuid.UUID
	Since      *time.Time
	DeliveryID int64
	EventID    *uuid.UUID
}

// Redeliver queues the messages r names again, with a new series of
// attempts, and returns how many; one still pending is not counted. A
// delivery or event with no message is ErrNoMessage.
func (v *Views) Redeliver(ctx context.Context, r Redelivery) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		var ids []int64
		var err error
		switch {
		case r.Since != nil:
			err = collect(ctx, tx, &ids, `SELECT id FROM webhook_messages WHERE webhook_id = $1 AND event_time >= $2`,
				r.WebhookID, *r.Since)
		case r.DeliveryID != 0:
			err = collect(ctx, tx, &ids, `SELECT message_id FROM webhook_attempts WHERE webhook_id = $1 AND id = $2`,
				r.WebhookID, r.DeliveryID)
		case r.EventID != nil:
			err = collect(ctx, tx, &ids, `SELECT id FROM webhook_messages WHERE webhook_id = $1 AND msg_id = $2`,
				r.WebhookID, *r.EventID)
		}
		if err != nil {
			return err
		}
		if r.Since == nil && len(ids) == 0 {
			return ErrNoMessage
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_messages SET state = 'pending', attempts = 0, next_attempt_at = '-infinity',
			locked_until = NULL, finished_at = NULL WHERE id = ANY($1) AND state <> 'pending'`, ids)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return wakeDispatcher(ctx, tx)
	})
	return n, err
}

func collect(ctx context.Context, tx pgx.Tx, ids *[]int64, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	*ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	return err
}

func wakeDispatcher(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, WebhookWakeChannel)
	return err
}

// QueueWebhookMessage queues a message of its own (a test) to a
// subscription, due at once.
func (v *Views) QueueWebhookMessage(ctx context.Context, webhookID, msgID uuid.UUID, eventType string, body []byte, at time.Time) error {
	return pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_messages (webhook_id, msg_id, event_type, body, event_time, state,
			next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', '-infinity')`, webhookID, msgID, eventType, body, at); err != nil {
			return err
		}
		return wakeDispatcher(ctx, tx)
	})
}
