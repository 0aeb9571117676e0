// Package benchcrud is the baseline of the API benchmark: the plain CRUD
// lead service a team would build instead of leadsvc. One leads table
// with typed columns for what filters ask about, a tokens table looked up
// by the SHA-256 of the bearer secret on every request, one INSERT per
// create and one indexed keyset SELECT per page. It lives with the
// benchmarks and is never part of the leadsvc binary; cmd/crudbaseline
// runs it as a process of its own.
package benchcrud

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Statuses are the lead statuses the baseline accepts; a lead is "new"
// unless it names one.
var Statuses = []string{"new", "contacted", "qualified", "won", "lost"}

// schema is the whole database of the baseline, with the indexes a team
// would add for the lists its tokens ask for: by campaign, by campaign
// and source, by campaign, source and status, each in list order.
const schema = `
CREATE TABLE IF NOT EXISTS leads (
	id          uuid PRIMARY KEY,
	campaign_id uuid NOT NULL,
	source      text,
	status      text NOT NULL,
	budget      numeric,
	fields      jsonb NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	version     bigint NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS leads_campaign_order ON leads (campaign_id, updated_at, id);
CREATE INDEX IF NOT EXISTS leads_source_order ON leads (campaign_id, source, updated_at, id);
CREATE INDEX IF NOT EXISTS leads_source_status_order ON leads (campaign_id, source, status, updated_at, id);
CREATE TABLE IF NOT EXISTS tokens (
	hash        bytea PRIMARY KEY,
	id          uuid NOT NULL UNIQUE,
	campaign_id uuid NOT NULL,
	can_write   boolean NOT NULL,
	source      text,
	statuses    text[],
	budget_min  numeric,
	budget_max  numeric
);`

// Migrate creates the baseline's tables and indexes where missing.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("benchcrud migrate: %w", err)
	}
	return nil
}

// Filter is the slice of a campaign a token sees; every set part must
// hold. The zero Filter is every lead of the campaign.
type Filter struct {
	Source    string   // "": any
	Statuses  []string // nil: any
	BudgetMin *float64 // with BudgetMax: budget between the two, inclusive
	BudgetMax *float64
}

// Matches reports whether a lead with these values is in f.
func (f Filter) Matches(source, status string, budget *float64) bool {
	if f.Source != "" && source != f.Source {
		return false
	}
	if f.Statuses != nil && !slices.Contains(f.Statuses, status) {
		return false
	}
	if f.BudgetMin != nil && (budget == nil || *budget < *f.BudgetMin || *budget > *f.BudgetMax) {
		return false
	}
	return true
}

// Token is a campaign-scoped credential.
type Token struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	Write      bool
	Filter     Filter
}

// CreateToken stores t under a new secret and returns the secret; only
// its SHA-256 is kept.
func CreateToken(ctx context.Context, pool *pgxpool.Pool, t Token) (string, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "crud_" + base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(secret))
	if t.ID == uuid.Nil {
		t.ID = uuid.New()
	}
	_, err := pool.Exec(ctx, `INSERT INTO tokens (hash, id, campaign_id, can_write, source, statuses, budget_min, budget_max)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8)`,
		hash[:], t.ID, t.CampaignID, t.Write, t.Filter.Source, t.Filter.Statuses, t.Filter.BudgetMin, t.Filter.BudgetMax)
	if err != nil {
		return "", fmt.Errorf("benchcrud token: %w", err)
	}
	return secret, nil
}

// Lead is one row of the leads table. Source and Budget are the "source"
// and "budget" members of Fields, kept in columns of their own.
type Lead struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	Status     string
	Fields     map[string]any
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// columns of Lead, as Copy and the INSERT write them.
var leadColumns = []string{"id", "campaign_id", "source", "status", "budget", "fields", "created_at", "updated_at", "version"}

func (l Lead) values() ([]any, error) {
	fields, err := json.Marshal(l.Fields)
	if err != nil {
		return nil, err
	}
	source, budget := sourceBudget(l.Fields)
	var src *string
	if source != "" {
		src = &source
	}
	return []any{l.ID, l.CampaignID, src, l.Status, budget, json.RawMessage(fields), l.CreatedAt, l.UpdatedAt, l.Version}, nil
}

func sourceBudget(fields map[string]any) (string, *float64) {
	source, _ := fields["source"].(string)
	var budget *float64
	if b, ok := fields["budget"].(float64); ok {
		budget = &b
	}
	return source, budget
}

// CopyLeads writes n leads, next(0) … next(n-1), with one COPY: how a
// team loads an import or a migration.
func CopyLeads(ctx context.Context, pool *pgxpool.Pool, n int, next func(i int) Lead) error {
	i := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"leads"}, leadColumns, pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		return next(i - 1).values()
	}))
	if err != nil {
		return fmt.Errorf("benchcrud copy: %w", err)
	}
	return nil
}
