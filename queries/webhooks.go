package queries

import (
	"context"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Webhook returns a live subscription of the account.
func (q *Queries) Webhook(ctx context.Context, accountID, id uuid.UUID) (views.Webhook, error) {
	return q.views.Webhook(ctx, accountID, id)
}

// ListWebhooks returns the account's live subscriptions, or one
// campaign's when campaignID is not nil, newest first.
func (q *Queries) ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]views.Webhook, error) {
	return q.views.ListWebhooks(ctx, accountID, campaignID)
}

// DeliveryQuery pages the delivery log, newest first: at most Limit
// attempts older than the attempt Before (0: from the newest).
type DeliveryQuery struct {
	Limit  int
	Before int64
}

// WebhookDeliveries returns a page of a subscription's delivery log; a
// subscription that is not the account's, or deleted, is
// domain.ErrWebhookNotFound.
func (q *Queries) WebhookDeliveries(ctx context.Context, accountID, webhookID uuid.UUID, dq DeliveryQuery) ([]views.Delivery, error) {
	if _, err := q.views.Webhook(ctx, accountID, webhookID); err != nil {
		return nil, err
	}
	return q.views.Deliveries(ctx, webhookID, dq.Before, dq.Limit)
}

// LeadDeliveries returns every attempt to deliver a message about a lead
// of the account, oldest first: the webhook deliveries that carried it.
func (q *Queries) LeadDeliveries(ctx context.Context, accountID, leadID uuid.UUID) ([]views.Delivery, error) {
	return q.views.LeadDeliveries(ctx, accountID, leadID)
}
