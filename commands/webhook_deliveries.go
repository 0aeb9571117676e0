package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// WebhookWakeChannel is the Postgres notification channel that wakes the
// webhook dispatcher when messages become due; projections/webhooks
// listens on the same name.
const WebhookWakeChannel = views.WebhookWakeChannel

// deliveryLog queues messages in the webhook delivery log.
type deliveryLog interface {
	Redeliver(ctx context.Context, r views.Redelivery) (int64, error)
	QueueWebhookMessage(ctx context.Context, webhookID, msgID uuid.UUID, eventType string, body []byte, at time.Time) error
}

// WebhookDelivery is one attempt to deliver a message: the delivery log.
type WebhookDelivery = views.Delivery

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

// RedeliverWebhookHandler queues webhook messages again.
type RedeliverWebhookHandler struct{ *deps }

// Handle refuses a disabled subscription (ErrWebhookDisabled);
// an unknown delivery or event of the subscription is ErrDeliveryNotFound.
func (c RedeliverWebhookHandler) Handle(ctx context.Context, cmd RedeliverWebhook) (RedeliverResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(finish) (RedeliverResult, error) {
		if err := c.liveWebhook(ctx, cmd.AccountID, cmd.WebhookID); err != nil {
			return RedeliverResult{}, err
		}
		n, err := c.views.Redeliver(ctx, views.Redelivery{WebhookID: cmd.WebhookID, Since: cmd.Since, DeliveryID: cmd.DeliveryID,
			EventID: cmd.EventID})
		if errors.Is(err, views.ErrNoMessage) {
			return RedeliverResult{}, ErrDeliveryNotFound
		}
		return RedeliverResult{Messages: n}, err
	})
}

// liveWebhook checks that the subscription exists in the account and is
// enabled.
func (c *deps) liveWebhook(ctx context.Context, accountID, id uuid.UUID) error {
	w, err := c.views.Webhook(ctx, accountID, id)
	if err != nil {
		return err
	}
	if w.DisabledAt != nil {
		return ErrWebhookDisabled
	}
	return nil
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

// SendWebhookTestHandler sends webhook test messages.
type SendWebhookTestHandler struct{ *deps }

// Handle refuses a disabled subscription (ErrWebhookDisabled).
func (c SendWebhookTestHandler) Handle(ctx context.Context, cmd SendWebhookTest) (WebhookTestResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(finish) (WebhookTestResult, error) {
		w, err := c.views.Webhook(ctx, cmd.AccountID, cmd.WebhookID)
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
		if err := c.views.QueueWebhookMessage(ctx, w.ID, id, domain.EventWebhookTest, body, at); err != nil {
			return WebhookTestResult{}, fmt.Errorf("webhook test: %w", err)
		}
		return WebhookTestResult{EventID: id}, nil
	})
}
