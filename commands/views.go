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
	ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error)
	// ScopeRows reads a live filter and campaigns in one round trip.
	ScopeRows(ctx context.Context, accountID uuid.UUID, filterID *uuid.UUID, campaignIDs []uuid.UUID) (*domain.Filter, []domain.Campaign, error)
}

// filterViews keeps and reads the filters view.
type filterViews interface {
	UpsertFilter(domain.Filter) eventstore.Inline
	Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error)
	ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error)
}

// TokenInfo is a token as admins list it: never the secret, only its
// prefix and last four characters.
type TokenInfo = views.Token

// Campaign returns a campaign of the account; another account's is
// domain.ErrCampaignNotFound, like a missing one.
func (c *Commands) Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error) {
	return c.views.Campaign(ctx, accountID, id)
}

// ListCampaigns returns the account's campaigns, oldest first.
func (c *Commands) ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error) {
	return c.views.ListCampaigns(ctx, accountID)
}

// Filter returns a live filter of the account.
func (c *Commands) Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error) {
	return c.views.Filter(ctx, accountID, id)
}

// ListFilters returns the live filters of a campaign of the account.
func (c *Commands) ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error) {
	return c.views.ListFilters(ctx, accountID, campaignID)
}

// Token returns a token of the account.
func (c *Commands) Token(ctx context.Context, accountID, id uuid.UUID) (TokenInfo, error) {
	return c.views.Token(ctx, accountID, id)
}

// TokenByDocsID returns the live token whose public documentation id is
// docsID; a revoked or expired token's docs are gone (not found).
func (c *Commands) TokenByDocsID(ctx context.Context, docsID string) (TokenInfo, error) {
	return c.views.TokenByDocsID(ctx, docsID, c.at())
}

// ListTokens returns the account's tokens, or one campaign's when
// campaignID is not nil, newest first.
func (c *Commands) ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]TokenInfo, error) {
	return c.views.ListTokens(ctx, accountID, campaignID)
}
