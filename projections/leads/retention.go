package leads

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// ExpiredLeads returns up to limit ids of the campaign's live (not
// erased) leads created (or, with countedFrom domain.RetentionFromUpdated,
// last changed) before the moment given, oldest first: one range of the
// partial indexes lead_views_retention_created and _updated. The views
// may lag; the erasure checks each lead against its own stream.
func (r *Reader) ExpiredLeads(ctx context.Context, campaignID uuid.UUID, countedFrom string, before time.Time, limit int) ([]uuid.UUID, error) {
	rows, err := r.pool.Query(ctx, expiredLeadsSQL(countedFrom), campaignID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("expired leads: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("expired leads: %w", err)
	}
	return ids, nil
}

// expiredLeadsSQL is ExpiredLeads' statement; the column is one of two
// constants, never the caller's text.
func expiredLeadsSQL(countedFrom string) string {
	col := "created_at"
	if countedFrom == domain.RetentionFromUpdated {
		col = "updated_at"
	}
	return `SELECT id FROM lead_views WHERE campaign_id = $1 AND erased_at IS NULL AND ` + col + ` < $2
		ORDER BY ` + col + ` LIMIT $3`
}
