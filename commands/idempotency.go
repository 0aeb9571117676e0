package commands

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/eventstore"
)

// Idempotency makes a write safe to retry: the same key with the same
// request gives the stored result; with another request it is refused.
type Idempotency struct {
	TokenID     string // keys are scoped to the token that sent them
	Key         string
	Fingerprint []byte // of method, path and body; see Fingerprint
}

// Fingerprint hashes the parts that make two requests "the same".
func Fingerprint(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return h.Sum(nil)
}

// Idempotency keys are kept this long; a running claim older than the lease
// belongs to a writer that died before committing and may be taken over.
const (
	idempotencyTTL   = 24 * time.Hour
	idempotencyLease = time.Minute
)

// finish stores a result inside the command's event transaction; nil
// when the request carries no Idempotency-Key.
type finish func(ctx context.Context, tx pgx.Tx, result any) error

// idempotent runs fn at most once per key. fn calls fin inside its event
// transaction; a run that wrote no events stores its result afterwards.
func idempotent[T any](ctx context.Context, c *Commands, idem *Idempotency, fn func(fin finish) (T, error)) (T, error) {
	var zero T
	if idem == nil || idem.Key == "" {
		// No result to keep: a nil finish lets the write go without an
		// inline step (and so through the group committer).
		return fn(nil)
	}
	stored, err := c.claim(ctx, idem)
	if err != nil || stored != nil {
		if err != nil {
			return zero, err
		}
		var out T
		if err := json.Unmarshal(stored, &out); err != nil {
			return zero, fmt.Errorf("idempotency: stored result: %w", err)
		}
		if r, ok := any(&out).(interface{ markReplayed() }); ok {
			r.markReplayed()
		}
		return out, nil
	}
	finished := false
	fin := func(ctx context.Context, tx pgx.Tx, result any) error {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET state = 'done', result = $3 WHERE token_id = $1 AND key = $2`,
			idem.TokenID, idem.Key, b)
		finished = err == nil
		return err
	}
	out, err := fn(fin)
	bg := context.WithoutCancel(ctx)
	if err != nil {
		// Failed requests are not stored: the client may fix and retry.
		_, _ = c.pool.Exec(bg, `DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND state = 'running'`, idem.TokenID, idem.Key)
		return zero, err
	}
	if !finished {
		if err := pgx.BeginFunc(bg, c.pool, func(tx pgx.Tx) error { return fin(bg, tx, out) }); err != nil {
			return zero, fmt.Errorf("idempotency: store result: %w", err)
		}
	}
	return out, nil
}

// claim takes the key as running, or returns the stored result of an
// earlier identical request, or the reason it cannot run now.
func (c *Commands) claim(ctx context.Context, idem *Idempotency) (json.RawMessage, error) {
	now := c.at()
	for range 3 {
		tag, err := c.pool.Exec(ctx, `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, created_at, expires_at)
			VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (token_id, key) DO NOTHING`,
			idem.TokenID, idem.Key, idem.Fingerprint, now, now.Add(idempotencyTTL))
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		var (
			fp      []byte
			state   string
			result  []byte
			created time.Time
			expires time.Time
		)
		err = c.pool.QueryRow(ctx, `SELECT fingerprint, state, result, created_at, expires_at FROM idempotency_keys
			WHERE token_id = $1 AND key = $2`, idem.TokenID, idem.Key).Scan(&fp, &state, &result, &created, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		switch {
		case !expires.After(now) || (state == "running" && created.Before(now.Add(-idempotencyLease))):
			// Expired, or a claim whose writer died: take it over.
			_, err := c.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND created_at = $3`,
				idem.TokenID, idem.Key, created)
			if err != nil {
				return nil, fmt.Errorf("idempotency: %w", err)
			}
			continue
		case string(fp) != string(idem.Fingerprint):
			return nil, ErrIdempotencyKeyReused
		case state == "running":
			return nil, ErrIdempotencyInProgress
		}
		return result, nil
	}
	return nil, ErrIdempotencyInProgress
}

// finishWith adapts a result-producing function into an Inline step; it
// fills in w first, so a replayed result names the same log position.
func finishWith(fin finish, w *Written, result func() any) eventstore.Inline {
	if fin == nil {
		return nil
	}
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		w.Position = eventstore.Appended{Records: recs}.LastPosition()
		return fin(ctx, tx, result())
	}
}

// SweepIdempotencyKeys deletes the keys expired by now, at most batch in
// each statement so that no statement holds many row locks for long, and
// returns how many it deleted. Rows another transaction holds (a request
// finishing with its key) are skipped, not waited for: the next sweep
// takes them. Several processes may sweep at once; each deletes its own
// rows.
func (c *Commands) SweepIdempotencyKeys(ctx context.Context, batch int) (int64, error) {
	if batch < 1 {
		return 0, fmt.Errorf("idempotency sweep: batch %d is not positive", batch)
	}
	now := c.at()
	var total int64
	for {
		tag, err := c.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE (token_id, key) IN (
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
