package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// The inline views: rows written from the folded aggregate inside the
// transaction of its events (invariant 5).

func upsertCampaign(c domain.Campaign) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		schema, err := json.Marshal(c.Schema)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaigns (id, account_id, name, schema, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, schema = excluded.schema,
				version = excluded.version, updated_at = excluded.updated_at`,
			c.ID, c.AccountID, c.Name, schema, c.Version, c.CreatedAt, c.UpdatedAt)
		return err
	}
}

func upsertFilter(f domain.Filter) eventstore.Inline {
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

// upsertToken writes a token's state; secret columns are set by the
// commands that change the secret.
func upsertToken(t domain.Token) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		perms := make([]string, len(t.Permissions))
		for i, p := range t.Permissions {
			perms[i] = string(p)
		}
		_, err := tx.Exec(ctx, `INSERT INTO tokens (id, account_id, campaign_id, filter_id, name, permissions, expires_at,
				secret_prefix, secret_last4, docs_id, created_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (id) DO UPDATE SET filter_id = excluded.filter_id, name = excluded.name,
				permissions = excluded.permissions, expires_at = excluded.expires_at,
				secret_prefix = excluded.secret_prefix, secret_last4 = excluded.secret_last4, version = excluded.version`,
			t.ID, t.AccountID, t.CampaignID, t.FilterID, t.Name, perms, t.ExpiresAt,
			t.SecretPrefix, t.SecretLast4, t.DocsID, t.CreatedAt, t.Version)
		return err
	}
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryOne runs a query expected to find at most one row and scans it;
// no row is notFound.
func queryOne[T any](ctx context.Context, q querier, scan func(pgx.Rows) ([]T, error), notFound error, sql string, args ...any) (T, error) {
	var zero T
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return zero, err
	}
	found, err := scan(rows)
	if err != nil {
		return zero, err
	}
	if len(found) == 0 {
		return zero, notFound
	}
	return found[0], nil
}

// Campaign returns a campaign of the account; another account's is
// domain.ErrCampaignNotFound, like a missing one.
func (c *Commands) Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error) {
	return queryOne(ctx, c.pool, scanCampaigns, domain.ErrCampaignNotFound, `SELECT `+campaignColumns+`
		FROM campaigns WHERE account_id = $1 AND id = $2`, accountID, id)
}

// ListCampaigns returns the account's campaigns, oldest first.
func (c *Commands) ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, account_id, name, schema, version, created_at, updated_at
		FROM campaigns WHERE account_id = $1 ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, err
	}
	return scanCampaigns(rows)
}

const campaignColumns = `id, account_id, name, schema, version, created_at, updated_at`

// campaignRow is campaignColumns as scanned: nullable, so that the
// missing side of a LEFT JOIN scans too.
type campaignRow struct {
	id, accountID        *uuid.UUID
	name                 *string
	schema               []byte
	version              *int64
	createdAt, updatedAt *time.Time
}

func (r *campaignRow) dest() []any {
	return []any{&r.id, &r.accountID, &r.name, &r.schema, &r.version, &r.createdAt, &r.updatedAt}
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

// Filter returns a live filter of the account.
func (c *Commands) Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error) {
	return queryOne(ctx, c.pool, scanFilters, domain.ErrFilterNotFound, `SELECT `+filterColumns+`
		FROM filters WHERE account_id = $1 AND id = $2 AND NOT deleted`, accountID, id)
}

// ListFilters returns the live filters of a campaign of the account.
func (c *Commands) ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, campaign_id, account_id, name, conditions, any_groups, deleted, version
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

// TokenInfo is a token as admins list it: never the secret, only its
// prefix and last four characters.
type TokenInfo struct {
	ID                 uuid.UUID
	AccountID          uuid.UUID
	CampaignID         *uuid.UUID
	FilterID           *uuid.UUID
	Name               string
	Permissions        []domain.Permission
	ExpiresAt          *time.Time
	RevokedAt          *time.Time
	SecretPrefix       string
	SecretLast4        string
	PreviousValidUntil *time.Time
	DocsID             string
	LastUsedAt         *time.Time
	CreatedAt          time.Time
	Version            int64
}

// Can reports whether the token carries permission p.
func (t TokenInfo) Can(p domain.Permission) bool {
	for _, have := range t.Permissions {
		if have == p {
			return true
		}
	}
	return false
}

const tokenColumns = `id, account_id, campaign_id, filter_id, name, permissions, expires_at, revoked_at,
	secret_prefix, secret_last4, previous_valid_until, docs_id, last_used_at, created_at, version`

// tokenRow is tokenColumns as scanned.
type tokenRow struct {
	t     TokenInfo
	perms []string
}

func (r *tokenRow) dest() []any {
	t := &r.t
	return []any{&t.ID, &t.AccountID, &t.CampaignID, &t.FilterID, &t.Name, &r.perms, &t.ExpiresAt, &t.RevokedAt,
		&t.SecretPrefix, &t.SecretLast4, &t.PreviousValidUntil, &t.DocsID, &t.LastUsedAt, &t.CreatedAt, &t.Version}
}

func (r *tokenRow) token() TokenInfo {
	t := r.t
	for _, p := range r.perms {
		t.Permissions = append(t.Permissions, domain.Permission(p))
	}
	return t
}

func scanTokens(rows pgx.Rows) ([]TokenInfo, error) {
	defer rows.Close()
	var out []TokenInfo
	for rows.Next() {
		var r tokenRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		out = append(out, r.token())
	}
	return out, rows.Err()
}

// qualified prefixes each of a column list's names with table alias a.
func qualified(a, columns string) string {
	names := strings.Split(columns, ",")
	for i, n := range names {
		names[i] = a + "." + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}

// Token returns a token of the account.
func (c *Commands) Token(ctx context.Context, accountID, id uuid.UUID) (TokenInfo, error) {
	return queryOne(ctx, c.pool, scanTokens, domain.ErrTokenNotFound,
		`SELECT `+tokenColumns+` FROM tokens WHERE account_id = $1 AND id = $2`, accountID, id)
}

// TokenByDocsID returns the live token whose public documentation id is
// docsID; a revoked or expired token's docs are gone (not found).
func (c *Commands) TokenByDocsID(ctx context.Context, docsID string) (TokenInfo, error) {
	return queryOne(ctx, c.pool, scanTokens, domain.ErrTokenNotFound, `SELECT `+tokenColumns+` FROM tokens WHERE docs_id = $1
		AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, docsID, c.at())
}

// ListTokens returns the account's tokens, or one campaign's when
// campaignID is not nil, newest first.
func (c *Commands) ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]TokenInfo, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE account_id = $1
		AND ($2::uuid IS NULL OR campaign_id = $2) ORDER BY created_at DESC, id`, accountID, campaignID)
	if err != nil {
		return nil, err
	}
	return scanTokens(rows)
}
