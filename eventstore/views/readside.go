package views

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// The reads below are for the projections, which read campaigns, filters
// and subscriptions inside their own transactions (after their locks) and
// in their own round trips: each queues into the caller's batch or runs in
// the caller's transaction. Projections declare them as interfaces; cmd
// wires *Views.

// QueueCampaignSchema queues into b the read of a campaign's schema; fn
// gets it, with found false when there is no such campaign.
func (v *Views) QueueCampaignSchema(b *pgx.Batch, id uuid.UUID, fn func(s domain.Schema, found bool) error) {
	b.Queue(`SELECT schema FROM campaigns WHERE id = $1`, id).Query(func(rows pgx.Rows) error {
		var (
			s     domain.Schema
			found bool
		)
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&raw); err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("campaign %s schema: %w", id, err)
			}
			found = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return fn(s, found)
	})
}

// QueueLiveFilters queues into b the read of a campaign's live filters.
func (v *Views) QueueLiveFilters(b *pgx.Batch, campaignID uuid.UUID, fn func([]domain.Filter) error) {
	b.Queue(`SELECT `+filterColumns+` FROM filters WHERE campaign_id = $1 AND NOT deleted`, campaignID).
		Query(func(rows pgx.Rows) error {
			fs, err := scanFilters(rows)
			if err != nil {
				return err
			}
			return fn(fs)
		})
}

// QueueFilter queues into b the read of a filter, live or deleted
// (Filter.Deleted); fn's found is false when there is none.
func (v *Views) QueueFilter(b *pgx.Batch, id uuid.UUID, fn func(f domain.Filter, found bool) error) {
	b.Queue(`SELECT `+filterColumns+` FROM filters WHERE id = $1`, id).Query(func(rows pgx.Rows) error {
		fs, err := scanFilters(rows)
		if err != nil {
			return err
		}
		if len(fs) == 0 {
			return fn(domain.Filter{}, false)
		}
		return fn(fs[0], true)
	})
}

// LiveFiltersIn reads the live filters of ids in tx.
func (v *Views) LiveFiltersIn(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) ([]domain.Filter, error) {
	rows, err := tx.Query(ctx, `SELECT `+filterColumns+` FROM filters WHERE id = ANY($1) AND NOT deleted`, ids)
	if err != nil {
		return nil, err
	}
	return scanFilters(rows)
}

// EachFilter calls fn with every filter, live or deleted, and its
// campaign's schema.
func (v *Views) EachFilter(ctx context.Context, fn func(f domain.Filter, schema domain.Schema) error) error {
	rows, err := v.pool.Query(ctx, `SELECT `+qualified("f", filterColumns)+`, c.schema
		FROM filters f JOIN campaigns c ON c.id = f.campaign_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	schemas := map[uuid.UUID]domain.Schema{}
	for rows.Next() {
		var (
			r   filterRow
			raw []byte
		)
		if err := rows.Scan(append(r.dest(), &raw)...); err != nil {
			return err
		}
		f, _, err := r.filter()
		if err != nil {
			return err
		}
		schema, ok := schemas[f.CampaignID]
		if !ok {
			if err := json.Unmarshal(raw, &schema); err != nil {
				return fmt.Errorf("campaign %s schema: %w", f.CampaignID, err)
			}
			schemas[f.CampaignID] = schema
		}
		if err := fn(f, schema); err != nil {
			return err
		}
	}
	return rows.Err()
}

// QueueSubscriptions queues into b the read of the live (not deleted)
// subscriptions of campaignIDs, in the order they were created: fn gets
// each (ID, AccountID, CampaignID, FilterID, EventTypes and Disabled
// set), the position of its webhook.created event and its campaign's
// schema.
func (v *Views) QueueSubscriptions(b *pgx.Batch, campaignIDs []uuid.UUID,
	fn func(w domain.Webhook, createdPosition int64, schema domain.Schema) error) {
	b.Queue(`SELECT w.id, w.account_id, w.campaign_id, w.filter_id, w.event_types, w.disabled_at IS NOT NULL,
			w.created_position, c.schema
		FROM webhooks w JOIN campaigns c ON c.id = w.campaign_id
		WHERE w.campaign_id = ANY($1) AND w.deleted_at IS NULL ORDER BY w.created_position`, campaignIDs).
		Query(func(rows pgx.Rows) error {
			schemas := map[uuid.UUID]domain.Schema{}
			for rows.Next() {
				var (
					w        domain.Webhook
					position int64
					raw      []byte
				)
				if err := rows.Scan(&w.ID, &w.AccountID, &w.CampaignID, &w.FilterID, &w.EventTypes, &w.Disabled, &position, &raw); err != nil {
					return err
				}
				schema, ok := schemas[w.CampaignID]
				if !ok {
					if err := json.Unmarshal(raw, &schema); err != nil {
						return fmt.Errorf("campaign %s schema: %w", w.CampaignID, err)
					}
					schemas[w.CampaignID] = schema
				}
				if err := fn(w, position, schema); err != nil {
					return err
				}
			}
			return rows.Err()
		})
}
