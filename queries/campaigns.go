package queries

import (
	"context"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// Campaign returns a campaign of the account; another account's is
// domain.ErrCampaignNotFound, like a missing one.
func (q *Queries) Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error) {
	return q.views.Campaign(ctx, accountID, id)
}

// ListCampaigns returns the account's campaigns, oldest first.
func (q *Queries) ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error) {
	return q.views.ListCampaigns(ctx, accountID)
}

// Filter returns a live filter of the account.
func (q *Queries) Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error) {
	return q.views.Filter(ctx, accountID, id)
}

// ListFilters returns the live filters of a campaign of the account.
func (q *Queries) ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error) {
	return q.views.ListFilters(ctx, accountID, campaignID)
}
