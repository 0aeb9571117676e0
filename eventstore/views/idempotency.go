package views

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/eventstore"
)

// IdempotencyKey is a stored Idempotency-Key of a token.
type IdempotencyKey struct {
	Fingerprint []byte
	State       string // "running" while its request runs, then "done"
	Result      json.RawMessage
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// ClaimIdempotencyKey stores the key as running unless the token has it
// already; ok is false then.
func (v *Views) ClaimIdempotencyKey(ctx context.Context, tokenID, key string, fingerprint []byte, now, expires time.Time) (ok bool, err error) {
	tag, err := v.pool.Exec(ctx, `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, created_at, expires_at)
		VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (token_id, key) DO NOTHING`,
		tokenID, key, fingerprint, now, expires)
	return err == nil && tag.RowsAffected() == 1, err
}

// IdempotencyKeyOf returns the token's stored key; found is false when it
// has none.
func (v *Views) IdempotencyKeyOf(ctx context.Context, tokenID, key string) (k IdempotencyKey, found bool, err error) {
	err = v.pool.QueryRow(ctx, `SELECT fingerprint, state, result, created_at, expires_at FROM idempotency_keys
		WHERE token_id = $1 AND key = $2`, tokenID, key).Scan(&k.Fingerprint, &k.State, &k.Result, &k.CreatedAt, &k.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return IdempotencyKey{}, false, nil
	}
	return k, err == nil, err
}

// DropIdempotencyKey deletes the token's key if it is still the one
// created at createdAt (taken over when expired or abandoned).
func (v *Views) DropIdempotencyKey(ctx context.Context, tokenID, key string, createdAt time.Time) error {
	_, err := v.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND created_at = $3`,
		tokenID, key, createdAt)
	return err
}

// ReleaseIdempotencyKey deletes the token's key while it is running: its
// request failed and is not stored.
func (v *Views) ReleaseIdempotencyKey(ctx context.Context, tokenID, key string) error {
	_, err := v.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND state = 'running'`, tokenID, key)
	return err
}

// FinishIdempotencyKey stores the JSON of result() as the key's result,
// in the transaction; done, when not nil, is set once it is stored.
func (v *Views) FinishIdempotencyKey(tokenID, key string, result func() any, done *bool) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		b, err := json.Marshal(result())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET state = 'done', result = $3 WHERE token_id = $1 AND key = $2`,
			tokenID, key, b)
		if done != nil {
			*done = err == nil
		}
		return err
	}
}

// InTransaction runs step in a transaction of its own, for a write that
// appended no events.
func (v *Views) InTransaction(ctx context.Context, step eventstore.Inline) error {
	return pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error { return step(ctx, tx, nil) })
}

// SweepIdempotencyKeys deletes the keys expired by now, at most batch in
// each statement so that no statement holds many row locks for long, and
// returns how many it deleted. Rows another transaction holds (a request
// finishing with its key) are skipped, not waited for: the next sweep
// takes them.
func (v *Views) SweepIdempotencyKeys(ctx context.Context, now time.Time, batch int) (int64, error) {
	var total int64
	for {
		tag, err := v.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE (token_id, key) IN (
			SELECT token_id, key FROM idempotency_keys WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, batch)
		if err != nil {
			return total, fmt.Errorf("idempotency sweep: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
