package views

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// UpsertCampaign writes the folded campaign.
func (v *Views) UpsertCampaign(c domain.Campaign) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		schema, err := json.Marshal(c.Schema)
		if err != nil {
			return err
		}
		var retention []byte // NULL: no policy
		if c.Retention != nil {
			if retention, err = json.Marshal(c.Retention); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaigns (id, account_id, name, schema, version, created_at, updated_at, retention)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, schema = excluded.schema,
				version = excluded.version, updated_at = excluded.updated_at, retention = excluded.retention`,
			c.ID, c.AccountID, c.Name, schema, c.Version, c.CreatedAt, c.UpdatedAt, retention)
		return err
	}
}

// Campaign returns a campaign of the account; another account's is
// domain.ErrCampaignNotFound, like a missing one.
func (v *Views) Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error) {
	return queryOne(ctx, v.pool, scanCampaigns, domain.ErrCampaignNotFound, `SELECT `+campaignColumns+`
		FROM campaigns WHERE account_id = $1 AND id = $2`, accountID, id)
}

// ListCampaigns returns the account's campaigns, oldest first.
func (v *Views) ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error) {
	rows, err := v.pool.Query(ctx, `SELECT `+campaignColumns+`
		FROM campaigns WHERE account_id = $1 ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, err
	}
	return scanCampaigns(rows)
}

// RetentionCampaigns returns the campaigns of every account that have a
// retention policy, for the retention job; there are few, so no index.
func (v *Views) RetentionCampaigns(ctx context.Context) ([]domain.Campaign, error) {
	rows, err := v.pool.Query(ctx, `SELECT `+campaignColumns+`
		FROM campaigns WHERE retention IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return scanCampaigns(rows)
}

// ScopeRows reads, in one round trip, the live filter filterID (when not
// nil; nil when deleted or missing) and the account's campaigns of
// campaignIDs (those missing or of another account are left out). With
// nothing to read it makes no round trip.
func (v *Views) ScopeRows(ctx context.Context, accountID uuid.UUID, filterID *uuid.UUID, campaignIDs []uuid.UUID) (*domain.Filter, []domain.Campaign, error) {
	b := &pgx.Batch{}
	var filter, campaign *pgx.QueuedQuery
	if filterID != nil {
		filter = b.Queue(`SELECT `+filterColumns+` FROM filters WHERE account_id = $1 AND id = $2 AND NOT deleted`, accountID, *filterID)
	}
	switch len(campaignIDs) {
	case 0:
	case 1:
		campaign = b.Queue(`SELECT `+campaignColumns+` FROM campaigns WHERE account_id = $1 AND id = $2`, accountID, campaignIDs[0])
	default:
		campaign = b.Queue(`SELECT `+campaignColumns+` FROM campaigns WHERE account_id = $1 AND id = ANY($2)`, accountID, campaignIDs)
	}
	if b.Len() == 0 {
		return nil, nil, nil
	}
	var (
		filters []domain.Filter
		camps   []domain.Campaign
	)
	if filter != nil {
		filter.Query(func(rows pgx.Rows) (err error) { filters, err = scanFilters(rows); return err })
	}
	if campaign != nil {
		campaign.Query(func(rows pgx.Rows) (err error) { camps, err = scanCampaigns(rows); return err })
	}
	if err := v.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	if len(filters) > 0 {
		return &filters[0], camps, nil
	}
	return nil, camps, nil
}

const campaignColumns = `id, account_id, name, schema, version, created_at, updated_at, retention`

// campaignRow is campaignColumns as scanned: nullable, so that the
// missing side of a LEFT JOIN scans too.
type campaignRow struct {
	id, accountID        *uuid.UUID
	name                 *string
	schema               []byte
	version              *int64
	createdAt, updatedAt *time.Time
	retention            []byte
}

func (r *campaignRow) dest() []any {
	return []any{&r.id, &r.accountID, &r.name, &r.schema, &r.version, &r.createdAt, &r.updatedAt, &r.retention}
}

// campaign returns the row's campaign; ok is false for a missing row.
// schemas, when not nil, decodes a schema it has seen before only once.
func (r *campaignRow) campaign(schemas *schemaCache) (cp domain.Campaign, ok bool, err error) {
	if r.id == nil {
		return cp, false, nil
	}
	cp = domain.Campaign{ID: *r.id, AccountID: *r.accountID, Name: *r.name, Version: *r.version,
		CreatedAt: *r.createdAt, UpdatedAt: *r.updatedAt}
	if cp.Schema, err = schemas.decode(r.schema); err != nil {
		return cp, false, fmt.Errorf("campaign %s schema: %w", cp.ID, err)
	}
	if r.retention != nil {
		cp.Retention = &domain.Retention{}
		if err := json.Unmarshal(r.retention, cp.Retention); err != nil {
			return cp, false, fmt.Errorf("campaign %s retention: %w", cp.ID, err)
		}
	}
	return cp, true, nil
}

// schemaCache keeps campaign schemas decoded, keyed by their stored JSON.
// Authentication still reads the campaign row on every request, so a
// schema change applies to the very next one; only the decoding of a
// schema already seen is saved (it was about 5 % of the service's CPU
// under partner traffic). One decoded value serves every request because
// the domain never changes a Schema in place (Campaign.Evolve clones).
type schemaCache struct {
	mu sync.RWMutex
	m  map[string]domain.Schema
}

// schemaCacheMax bounds the cache; when full it starts over.
const schemaCacheMax = 256

func (c *schemaCache) decode(raw []byte) (domain.Schema, error) {
	var s domain.Schema
	if c == nil {
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	c.mu.RLock()
	s, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return domain.Schema{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= schemaCacheMax {
		c.m = make(map[string]domain.Schema)
	}
	c.m[string(raw)] = s
	c.mu.Unlock()
	return s, nil
}

func scanCampaigns(rows pgx.Rows) ([]domain.Campaign, error) {
	defer rows.Close()
	var out []domain.Campaign
	for rows.Next() {
		var r campaignRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		cp, ok, err := r.campaign(nil)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, cp)
		}
	}
	return out, rows.Err()
}
