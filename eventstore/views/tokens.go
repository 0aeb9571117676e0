package views

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Token is a token as admins list it: never the secret, only its
// prefix and last four characters.
type Token struct {
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
func (t Token) Can(p domain.Permission) bool {
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
	t     Token
	perms []string
}

func (r *tokenRow) dest() []any {
	t := &r.t
	return []any{&t.ID, &t.AccountID, &t.CampaignID, &t.FilterID, &t.Name, &r.perms, &t.ExpiresAt, &t.RevokedAt,
		&t.SecretPrefix, &t.SecretLast4, &t.PreviousValidUntil, &t.DocsID, &t.LastUsedAt, &t.CreatedAt, &t.Version}
}

func (r *tokenRow) token() Token {
	t := r.t
	for _, p := range r.perms {
		t.Permissions = append(t.Permissions, domain.Permission(p))
	}
	return t
}

func scanTokens(rows pgx.Rows) ([]Token, error) {
	defer rows.Close()
	var out []Token
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

// UpsertToken writes a token's state; the secret columns are set by the
// steps that change the secret.
func (v *Views) UpsertToken(t domain.Token) eventstore.Inline {
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

// SetTokenSecret stores a token's new secret: its hash, for lookup, and
// its sealed copy, for Show.
func (v *Views) SetTokenSecret(id uuid.UUID, hash, sealed []byte) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `UPDATE tokens SET secret_hash = $2, secret_sealed = $3 WHERE id = $1`, id, hash, sealed)
		return err
	}
}

// KeepPreviousSecret keeps the token's current secret hash as its previous
// one until until, ahead of SetTokenSecret; with until nil nothing of the
// old secret is kept.
func (v *Views) KeepPreviousSecret(id uuid.UUID, until *time.Time) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		q := `UPDATE tokens SET previous_secret_hash = NULL, previous_valid_until = NULL WHERE id = $1`
		args := []any{id}
		if until != nil {
			q = `UPDATE tokens SET previous_secret_hash = secret_hash, previous_valid_until = $2 WHERE id = $1`
			args = append(args, *until)
		}
		_, err := tx.Exec(ctx, q, args...)
		return err
	}
}

// DestroyTokenSecrets marks a token revoked at at and clears its secret
// and any previous one.
func (v *Views) DestroyTokenSecrets(id uuid.UUID, at time.Time) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $2, secret_hash = NULL, secret_sealed = NULL,
			previous_secret_hash = NULL, previous_valid_until = NULL WHERE id = $1`, id, at)
		return err
	}
}

// ReadToken reads the token's row, as the transaction left it, into into.
func (v *Views) ReadToken(id uuid.UUID, into *Token) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		t, err := queryOne(ctx, tx, scanTokens, fmt.Errorf("token %s: row missing after write", id),
			`SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id)
		*into = t
		return err
	}
}

// WithTokenSecret calls fn in the transaction with the token's stored
// secret hash and sealed copy (nil once destroyed).
func (v *Views) WithTokenSecret(id uuid.UUID, fn func(hash, sealed []byte) error) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		var hash, sealed []byte
		if err := tx.QueryRow(ctx, `SELECT secret_hash, secret_sealed FROM tokens WHERE id = $1`, id).Scan(&hash, &sealed); err != nil {
			return err
		}
		return fn(hash, sealed)
	}
}

// CountOtherAdmins locks the account's row, so that such steps of one
// account run one at a time, and calls fn with the number of the
// account's live admin tokens other than tokenID at now.
func (v *Views) CountOtherAdmins(accountID, tokenID uuid.UUID, now time.Time, fn func(others int) error) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accountID); err != nil {
			return err
		}
		var others int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE account_id = $1 AND id <> $2 AND campaign_id IS NULL
			AND revoked_at IS NULL AND 'admin' = ANY(permissions) AND (expires_at IS NULL OR expires_at > $3)`,
			accountID, tokenID, now).Scan(&others); err != nil {
			return err
		}
		return fn(others)
	}
}

// SealedTokenSecret returns a token's sealed secret, nil once destroyed;
// another account's token is domain.ErrTokenNotFound.
func (v *Views) SealedTokenSecret(ctx context.Context, accountID, tokenID uuid.UUID) ([]byte, error) {
	var sealed []byte
	err := v.pool.QueryRow(ctx, `SELECT secret_sealed FROM tokens WHERE account_id = $1 AND id = $2`, accountID, tokenID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrTokenNotFound
	}
	return sealed, err
}

// Token returns a token of the account.
func (v *Views) Token(ctx context.Context, accountID, id uuid.UUID) (Token, error) {
	return queryOne(ctx, v.pool, scanTokens, domain.ErrTokenNotFound,
		`SELECT `+tokenColumns+` FROM tokens WHERE account_id = $1 AND id = $2`, accountID, id)
}

// TokenByDocsID returns the token live at now whose public documentation
// id is docsID; a revoked or expired token's docs are gone (not found).
func (v *Views) TokenByDocsID(ctx context.Context, docsID string, now time.Time) (Token, error) {
	return queryOne(ctx, v.pool, scanTokens, domain.ErrTokenNotFound, `SELECT `+tokenColumns+` FROM tokens WHERE docs_id = $1
		AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, docsID, now)
}

// ListTokens returns the account's tokens, or one campaign's when
// campaignID is not nil, newest first.
func (v *Views) ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]Token, error) {
	rows, err := v.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE account_id = $1
		AND ($2::uuid IS NULL OR campaign_id = $2) ORDER BY created_at DESC, id`, accountID, campaignID)
	if err != nil {
		return nil, err
	}
	return scanTokens(rows)
}

// Authenticated is what one statement finds for a secret's hash: the
// token, its live filter and its campaign (nil when it has none or they
// are gone), and whether the hash is the token's current secret rather
// than its previous one.
type Authenticated struct {
	Token    Token
	Filter   *domain.Filter
	Campaign *domain.Campaign
	Current  bool
}

// authenticateSQL finds the live token whose secret's hash ($1) is the
// current one or, within its grace at time $2, the previous one, with its
// filter and campaign.
var authenticateSQL = `SELECT ` + qualified("t", tokenColumns) + `, ` + qualified("f", filterColumns) + `, ` +
	qualified("c", campaignColumns) + `, t.secret_hash = $1
	FROM tokens t
	LEFT JOIN filters f ON f.account_id = t.account_id AND f.id = t.filter_id AND NOT f.deleted
	LEFT JOIN campaigns c ON c.account_id = t.account_id AND c.id = t.campaign_id
	WHERE t.revoked_at IS NULL AND (t.secret_hash = $1 OR (t.previous_secret_hash = $1 AND t.previous_valid_until > $2))`

// Authenticate reads, in one statement, the unrevoked token whose secret
// (or previous secret within its grace at now) has hash; ok is false
// unless exactly one does. Expiry is the caller's to check. A schema seen
// before is decoded only once.
func (v *Views) Authenticate(ctx context.Context, hash []byte, now time.Time) (a Authenticated, ok bool, err error) {
	rows, err := v.pool.Query(ctx, authenticateSQL, hash, now)
	if err != nil {
		return a, false, err
	}
	defer rows.Close()
	var (
		found int
		tr    tokenRow
		fr    filterRow
		cr    campaignRow
	)
	for rows.Next() {
		if err := rows.Scan(append(append(append(tr.dest(), fr.dest()...), cr.dest()...), &a.Current)...); err != nil {
			return a, false, err
		}
		found++
	}
	if err := rows.Err(); err != nil {
		return a, false, err
	}
	if found != 1 {
		return Authenticated{}, false, nil
	}
	a.Token = tr.token()
	if a.Token.CampaignID == nil {
		return a, true, nil
	}
	f, hasFilter, err := fr.filter()
	if err != nil {
		return a, false, err
	}
	if hasFilter {
		a.Filter = &f
	}
	camp, hasCampaign, err := cr.campaign(&v.schemas)
	if err != nil {
		return a, false, err
	}
	if hasCampaign {
		a.Campaign = &camp
	}
	return a, true, nil
}

// TouchToken records a token's use at now, at most once a minute, so that
// authentication does not turn every read into a write.
func (v *Views) TouchToken(ctx context.Context, tokenID uuid.UUID, now time.Time) error {
	// Not for a revoked token: a request authenticated from a cache is
	// touched before its first round trip finds the revocation.
	_, err := v.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $2
		WHERE id = $1 AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < $3)`, tokenID, now, now.Add(-time.Minute))
	return err
}
