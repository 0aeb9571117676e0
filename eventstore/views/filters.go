package views

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// UpsertFilter writes the folded filter; a deleted one stays, marked.
func (v *Views) UpsertFilter(f domain.Filter) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		conds, err := json.Marshal(f.Conditions)
		if err != nil {
			return err
		}
		var anyGroups []byte
		if len(f.Any) > 0 {
			if anyGroups, err = json.Marshal(f.Any); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO filters (id, campaign_id, account_id, name, conditions, any_groups, deleted, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, conditions = excluded.conditions,
				any_groups = excluded.any_groups, deleted = excluded.deleted, version = excluded.version`,
			f.ID, f.CampaignID, f.AccountID, f.Name, conds, anyGroups, f.Deleted, f.Version)
		return err
	}
}

// Filter returns a live filter of the account.
func (v *Views) Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error) {
	return queryOne(ctx, v.pool, scanFilters, domain.ErrFilterNotFound, `SELECT `+filterColumns+`
		FROM filters WHERE account_id = $1 AND id = $2 AND NOT deleted`, accountID, id)
}

// ListFilters returns the live filters of a campaign of the account.
func (v *Views) ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error) {
	rows, err := v.pool.Query(ctx, `SELECT id, campaign_id, account_id, name, conditions, any_groups, deleted, version
		FROM filters WHERE account_id = $1 AND campaign_id = $2 AND NOT deleted ORDER BY name, id`, accountID, campaignID)
	if err != nil {
		return nil, err
	}
	return scanFilters(rows)
}

const filterColumns = `id, campaign_id, account_id, name, conditions, any_groups, deleted, version`

// filterRow is filterColumns as scanned, nullable like campaignRow.
type filterRow struct {
	id, campaignID, accountID *uuid.UUID
	name                      *string
	conds, anyGroups          []byte
	deleted                   *bool
	version                   *int64
}

func (r *filterRow) dest() []any {
	return []any{&r.id, &r.campaignID, &r.accountID, &r.name, &r.conds, &r.anyGroups, &r.deleted, &r.version}
}

// filter returns the row's filter; ok is false for a missing row.
func (r *filterRow) filter() (f domain.Filter, ok bool, err error) {
	if r.id == nil {
		return f, false, nil
	}
	f = domain.Filter{ID: *r.id, CampaignID: *r.campaignID, AccountID: *r.accountID, Name: *r.name,
		Deleted: *r.deleted, Version: *r.version}
	if err := json.Unmarshal(r.conds, &f.Conditions); err != nil {
		return f, false, fmt.Errorf("filter %s: %w", f.ID, err)
	}
	if r.anyGroups != nil {
		if err := json.Unmarshal(r.anyGroups, &f.Any); err != nil {
			return f, false, fmt.Errorf("filter %s: %w", f.ID, err)
		}
	}
	return f, true, nil
}

func scanFilters(rows pgx.Rows) ([]domain.Filter, error) {
	defer rows.Close()
	var out []domain.Filter
	for rows.Next() {
		var r filterRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		f, ok, err := r.filter()
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, rows.Err()
}
