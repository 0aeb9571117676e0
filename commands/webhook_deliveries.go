package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// WebhookWakeChannel is the Postgres notification channel that wakes the
// webhook dispatcher when messages become due; projections/webhooks
// listens on the same name.
const WebhookWakeChannel = "leadsvc_webhooks"

// WebhookDelivery is one attempt to deliver a message: the delivery log.
type WebhookDelivery struct {
	ID              int64
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

// DeliveryQuery pages the delivery log, newest first: at most Limit
// attempts older than the attempt Before (0: from the newest).
type DeliveryQuery struct {
	Limit  int
	Before int64
}

// WebhookDeliveries returns a page of a subscription's delivery log.
func (c *Commands) WebhookDeliveries(ctx context.Context, accountID, webhookID uuid.UUID, q DeliveryQuery) ([]WebhookDelivery, error) {
	if _, err := c.Webhook(ctx, accountID, webhookID); err != nil {
		return nil, err
	}
	rows, err := c.pool.Query(ctx, `SELECT a.id, m.msg_id, m.event_type, m.lead_id, m.lead_version, a.attempt, a.attempted_at,
			a.status_code, a.duration_ms, coalesce(a.response_excerpt, ''), coalesce(a.error, ''), a.success, m.state,
			CASE WHEN m.state = 'pending' AND m.next_attempt_at > '-infinity' THEN m.next_attempt_at END
		FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
		WHERE a.webhook_id = $1 AND ($2 = 0 OR a.id < $2)
		ORDER BY a.id DESC LIMIT $3`, webhookID, q.Before, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		var d WebhookDelivery
		if err := rows.Scan(&d.ID, &d.EventID, &d.EventType, &d.LeadID, &d.LeadVersion, &d.Attempt, &d.AttemptedAt,
			&d.StatusCode, &d.DurationMS, &d.ResponseExcerpt, &d.Error, &d.Success, &d.State, &d.NextAttemptAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RedeliverWebhook sends messages again with a new series of attempts:
// every message of events recorded at or after Since, or the one message
// of attempt DeliveryID, or of event EventID. They keep their webhook-id,
// so a receiver that already has one can drop it, and go out in each
// lead's order.
type RedeliverWebhook struct {
	AccountID  uuid.UUID
	WebhookID  uuid.UUID
	Since      *time.Time
	DeliveryID int64
	EventID    *uuid.UUID
	Idem       *Idempotency
}

// RedeliverResult counts the messages queued again; one still being
// delivered is not counted.
type RedeliverResult struct {
	Messages int64 `json:"messages"`
}

// RedeliverWebhook refuses a disabled subscription (ErrWebhookDisabled);
// an unknown delivery or event of the subscription is ErrDeliveryNotFound.
func (c *Commands) RedeliverWebhook(ctx context.Context, cmd RedeliverWebhook) (RedeliverResult, error) {
	return idempotent(ctx, c, cmd.Idem, func(finish) (RedeliverResult, error) {
		if err := c.liveWebhook(ctx, cmd.AccountID, cmd.WebhookID); err != nil {
			return RedeliverResult{}, err
		}
		var res RedeliverResult
		err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			var ids []int64
			var err error
			switch {
			case cmd.Since != nil:
				err = collect(ctx, tx, &ids, `SELECT id FROM webhook_messages WHERE webhook_id = $1 AND event_time >= $2`,
					cmd.WebhookID, *cmd.Since)
			case cmd.DeliveryID != 0:
				err = collect(ctx, tx, &ids, `SELECT message_id FROM webhook_attempts WHERE webhook_id = $1 AND id = $2`,
					cmd.WebhookID, cmd.DeliveryID)
			case cmd.EventID != nil:
				err = collect(ctx, tx, &ids, `SELECT id FROM webhook_messages WHERE webhook_id = $1 AND msg_id = $2`,
					cmd.WebhookID, *cmd.EventID)
			}
			if err != nil {
				return err
			}
			if cmd.Since == nil && len(ids) == 0 {
				return ErrDeliveryNotFound
			}
			tag, err := tx.Exec(ctx, `UPDATE webhook_messages SET state = 'pending', attempts = 0, next_attempt_at = '-infinity',
				locked_until = NULL, finished_at = NULL WHERE id = ANY($1) AND state <> 'pending'`, ids)
			if err != nil {
				return err
			}
			res.Messages = tag.RowsAffected()
			return wakeDispatcher(ctx, tx)
		})
		return res, err
	})
}

func collect(ctx context.Context, tx pgx.Tx, ids *[]int64, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	*ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	return err
}

// liveWebhook checks that the subscription exists in the account and is
// enabled.
func (c *Commands) liveWebhook(ctx context.Context, accountID, id uuid.UUID) error {
	w, err := c.Webhook(ctx, accountID, id)
	if err != nil {
		return err
	}
	if w.DisabledAt != nil {
		return ErrWebhookDisabled
	}
	return nil
}

func wakeDispatcher(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, WebhookWakeChannel)
	return err
}

// SendWebhookTest queues a webhook.test message to a subscription, signed
// and retried like any other.
type SendWebhookTest struct {
	AccountID uuid.UUID
	WebhookID uuid.UUID
	Idem      *Idempotency
}

// WebhookTestResult names the test message: its webhook-id.
type WebhookTestResult struct {
	EventID uuid.UUID `json:"event_id"`
}

// SendWebhookTest refuses a disabled subscription (ErrWebhookDisabled).
func (c *Commands) SendWebhookTest(ctx context.Context, cmd SendWebhookTest) (WebhookTestResult, error) {
	return idempotent(ctx, c, cmd.Idem, func(finish) (WebhookTestResult, error) {
		w, err := c.Webhook(ctx, cmd.AccountID, cmd.WebhookID)
		if err != nil {
			return WebhookTestResult{}, err
		}
		if w.DisabledAt != nil {
			return WebhookTestResult{}, ErrWebhookDisabled
		}
		id, err := uuid.NewV7()
		if err != nil {
			return WebhookTestResult{}, err
		}
		at := c.at()
		data, err := json.Marshal(map[string]string{"webhook_id": w.ID.String(),
			"message": "a test event sent from the leadsvc API; it carries no lead data"})
		if err != nil {
			return WebhookTestResult{}, err
		}
		body, err := json.Marshal(domain.NewCloudEvent(id, domain.EventWebhookTest, w.AccountID, w.CampaignID, w.ID.String(), at, data))
		if err != nil {
			return WebhookTestResult{}, err
		}
		err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_messages (webhook_id, msg_id, event_type, body, event_time, state,
				next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', '-infinity')`, w.ID, id, domain.EventWebhookTest, body, at); err != nil {
				return err
			}
			return wakeDispatcher(ctx, tx)
		})
		if err != nil {
			return WebhookTestResult{}, fmt.Errorf("webhook test: %w", err)
		}
		return WebhookTestResult{EventID: id}, nil
	})
}
