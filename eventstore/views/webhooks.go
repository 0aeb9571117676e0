package views

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Webhook is a subscription as admins see it: never its secrets.
type Webhook struct {
	ID                 uuid.UUID
	AccountID          uuid.UUID
	CampaignID         uuid.UUID
	FilterID           *uuid.UUID
	URL                string
	EventTypes         []string
	DisabledAt         *time.Time
	DisabledReason     string
	DisabledDetail     string
	PreviousValidUntil *time.Time
	FailingSince       *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Version            int64
}

// UpsertWebhook writes a subscription's state; the secret columns are set
// by the steps that change them.
func (v *Views) UpsertWebhook(w domain.Webhook) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		types := w.EventTypes
		if types == nil {
			types = []string{}
		}
		var disabledAt, deletedAt *time.Time
		if w.Disabled {
			disabledAt = &w.DisabledAt
		}
		if w.Deleted {
			deletedAt = &w.UpdatedAt
		}
		var position int64
		if len(recs) > 0 {
			position = recs[0].Position
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (id, account_id, campaign_id, filter_id, url, event_types, disabled_at,
				disabled_reason, disabled_detail, deleted_at, created_position, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, $12, $13, $14)
			ON CONFLICT (id) DO UPDATE SET filter_id = excluded.filter_id, url = excluded.url, event_types = excluded.event_types,
				disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason,
				disabled_detail = excluded.disabled_detail, deleted_at = excluded.deleted_at,
				updated_at = excluded.updated_at, version = excluded.version`,
			w.ID, w.AccountID, w.CampaignID, w.FilterID, w.URL, types, disabledAt, w.DisabledReason, w.DisabledDetail,
			deletedAt, position, w.CreatedAt, w.UpdatedAt, w.Version)
		return err
	}
}

// SetWebhookSecret stores a sealed signing secret as the subscription's;
// with keepPrevious the current one keeps signing until the grace ends
// (GraceWebhookSecret).
func (v *Views) SetWebhookSecret(id uuid.UUID, sealed []byte, keepPrevious bool) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		q := `UPDATE webhooks SET secret_sealed = $2 WHERE id = $1`
		if keepPrevious {
			q = `UPDATE webhooks SET previous_secret_sealed = secret_sealed, secret_sealed = $2 WHERE id = $1`
		}
		_, err := tx.Exec(ctx, q, id, sealed)
		return err
	}
}

// GraceWebhookSecret lets the previous signing secret sign until until;
// nil stops it (and any earlier grace's) at once.
func (v *Views) GraceWebhookSecret(id uuid.UUID, until *time.Time) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		if until == nil {
			_, err := tx.Exec(ctx, `UPDATE webhooks SET previous_secret_sealed = NULL, previous_valid_until = NULL
				WHERE id = $1`, id)
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhooks SET previous_valid_until = $2 WHERE id = $1`, id, *until)
		return err
	}
}

// DestroyWebhookSecrets nulls a subscription's sealed secrets.
func (v *Views) DestroyWebhookSecrets(id uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `UPDATE webhooks SET secret_sealed = NULL, previous_secret_sealed = NULL,
			previous_valid_until = NULL WHERE id = $1`, id)
		return err
	}
}

// WithWebhookSecret calls fn in the transaction with the subscription's
// sealed signing secret (nil once destroyed).
func (v *Views) WithWebhookSecret(id uuid.UUID, fn func(sealed []byte) error) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		var sealed []byte
		if err := tx.QueryRow(ctx, `SELECT secret_sealed FROM webhooks WHERE id = $1`, id).Scan(&sealed); err != nil {
			return err
		}
		return fn(sealed)
	}
}

// ResetWebhookHealth forgets an endpoint's run of failures: after enabling
// it or pointing it elsewhere, the failure period starts again.
// webhook_health is otherwise the webhook projection's (it records the
// failures); this is the one write of it that a command makes, so that
// the reset lands with the event that asks for it.
func (v *Views) ResetWebhookHealth(id uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `DELETE FROM webhook_health WHERE webhook_id = $1`, id)
		return err
	}
}

const webhookColumns = `w.id, w.account_id, w.campaign_id, w.filter_id, w.url, w.event_types, w.disabled_at,
	coalesce(w.disabled_reason, ''), coalesce(w.disabled_detail, ''), w.previous_valid_until, h.failing_since,
	w.created_at, w.updated_at, w.version`

const webhookFrom = ` FROM webhooks w LEFT JOIN webhook_health h ON h.webhook_id = w.id `

func scanWebhooks(rows pgx.Rows) ([]Webhook, error) {
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		var w Webhook
		if err := rows.Scan(&w.ID, &w.AccountID, &w.CampaignID, &w.FilterID, &w.URL, &w.EventTypes, &w.DisabledAt,
			&w.DisabledReason, &w.DisabledDetail, &w.PreviousValidUntil, &w.FailingSince, &w.CreatedAt, &w.UpdatedAt,
			&w.Version); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// ReadWebhook reads the subscription's row, as the transaction left it,
// into into.
func (v *Views) ReadWebhook(id uuid.UUID, into *Webhook) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		w, err := queryOne(ctx, tx, scanWebhooks, fmt.Errorf("webhook %s: row missing after write", id),
			`SELECT `+webhookColumns+webhookFrom+`WHERE w.id = $1`, id)
		*into = w
		return err
	}
}

// Webhook returns a live subscription of the account.
func (v *Views) Webhook(ctx context.Context, accountID, id uuid.UUID) (Webhook, error) {
	return queryOne(ctx, v.pool, scanWebhooks, domain.ErrWebhookNotFound,
		`SELECT `+webhookColumns+webhookFrom+`WHERE w.account_id = $1 AND w.id = $2 AND w.deleted_at IS NULL`, accountID, id)
}

// ListWebhooks returns the account's live subscriptions, or one
// campaign's when campaignID is not nil, newest first.
func (v *Views) ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]Webhook, error) {
	rows, err := v.pool.Query(ctx, `SELECT `+webhookColumns+webhookFrom+`WHERE w.account_id = $1 AND w.deleted_at IS NULL
		AND ($2::uuid IS NULL OR w.campaign_id = $2) ORDER BY w.created_at DESC, w.id`, accountID, campaignID)
	if err != nil {
		return nil, err
	}
	return scanWebhooks(rows)
}
