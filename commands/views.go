package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Views is what the commands need of the inline views: the rows written
// from folded aggregates inside the transaction of their events
// (invariant 5), and the reads of them. *views.Views is the one in use.
type Views interface {
	accountViews
	campaignViews
	filterViews
	tokenViews
	idempotencyKeys
	fileViews
	webhookViews
	sealedViews
	deliveryLog
	erasureViews
}

// campaignViews keeps and reads the campaigns view.
type campaignViews interface {
	UpsertCampaign(domain.Campaign) eventstore.Inline
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
	// ScopeRows reads a live filter and campaigns in one round trip.
	ScopeRows(ctx context.Context, accountID uuid.UUID, filterID *uuid.UUID, campaignIDs []uuid.UUID) (*domain.Filter, []domain.Campaign, error)
	// RetentionCampaigns lists every account's campaigns with a retention
	// policy.
	RetentionCampaigns(ctx context.Context) ([]domain.Campaign, error)
}

// filterViews keeps and reads the filters view.
type filterViews interface {
	UpsertFilter(domain.Filter) eventstore.Inline
	Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error)
}

// TokenInfo is a token as admins list it: never the secret, only its
// prefix and last four characters.
type TokenInfo = views.Token
