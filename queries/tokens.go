package queries

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Token returns a token of the account.
func (q *Queries) Token(ctx context.Context, accountID, id uuid.UUID) (views.Token, error) {
	return q.views.Token(ctx, accountID, id)
}

// TokenByDocsID returns the live token whose public documentation id is
// docsID; a revoked or expired token's docs are gone (not found).
func (q *Queries) TokenByDocsID(ctx context.Context, docsID string) (views.Token, error) {
	return q.views.TokenByDocsID(ctx, docsID, q.now().UTC().Truncate(time.Microsecond))
}

// ListTokens returns the account's tokens, or one campaign's when
// campaignID is not nil, newest first.
func (q *Queries) ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]views.Token, error) {
	return q.views.ListTokens(ctx, accountID, campaignID)
}
