// Package queries holds the read use cases of leadsvc's inline views:
// campaigns, filters, tokens, webhooks and their deliveries, files and
// accounts, as the admin routes, the console and the public docs read
// them. The views are eventstore/views', reached through the Views
// interface declared here; queries writes nothing. The lead views kept
// from the stream are projections/leads' Reader; authentication stays
// with commands, which keeps its cache and records a token's use.
package queries

import (
	"context"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Views is what the queries read; *views.Views is the one in use.
type Views interface {
	Account(ctx context.Context, id uuid.UUID) (domain.Account, error)
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
	ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error)
	Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error)
	ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error)
	Token(ctx context.Context, accountID, id uuid.UUID) (views.Token, error)
	TokenByDocsID(ctx context.Context, docsID string, now time.Time) (views.Token, error)
	ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]views.Token, error)
	Webhook(ctx context.Context, accountID, id uuid.UUID) (views.Webhook, error)
	ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]views.Webhook, error)
	Deliveries(ctx context.Context, webhookID uuid.UUID, before int64, limit int) ([]views.Delivery, error)
	LeadDeliveries(ctx context.Context, accountID, leadID uuid.UUID) ([]views.Delivery, error)
	File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (domain.FileMeta, error)
	WriteFile(ctx context.Context, w io.Writer, id uuid.UUID, size int64) error
	FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error)
}

var _ Views = (*views.Views)(nil)

// Config wires the queries.
type Config struct {
	Views Views            // required: views.Of(store)
	Clock func() time.Time // default time.Now
}

// Queries holds every read use case of the inline views.
type Queries struct {
	views Views
	now   func() time.Time
}

// New returns the queries for cfg.
func New(cfg Config) *Queries {
	q := &Queries{views: cfg.Views, now: cfg.Clock}
	if q.now == nil {
		q.now = time.Now
	}
	return q
}

// Account returns an account.
func (q *Queries) Account(ctx context.Context, id uuid.UUID) (domain.Account, error) {
	return q.views.Account(ctx, id)
}
