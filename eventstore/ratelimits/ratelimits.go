// Package ratelimits keeps the rate limits' budgets that every process
// shares in PostgreSQL (table rate_limits), one row per policy and key:
// when the key's budget is full again, GCRA's theoretical arrival time
// (tat). Processes decide each request from their own counts
// (api.SharedLimiter) and call Sync in the background, so that no
// request waits for this table.
package ratelimits

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sinceMargin is how far before the previous sync Sync looks for the
// other processes' changes: a row is stamped when its transaction starts
// and may become visible later. Reading a row twice changes nothing.
const sinceMargin = 5 * time.Second

// Store reads and writes the shared budgets.
type Store struct{ pool *pgxpool.Pool }

// New returns the store of pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Spend is what a process spent of one key since its last Sync.
type Spend struct {
	Key   []byte
	Units int
}

// Debt is where a key stands: Full is how long until its budget is full
// again (0 or less: it is full).
type Debt struct {
	Key  []byte
	Full time.Duration
}

// Synced is what Sync learnt.
type Synced struct {
	// Debts holds every spent key and every key of the policy that
	// another process changed since the previous sync and is not full.
	Debts []Debt
	// At is the database's clock: the next Sync's since.
	At time.Time
}

// Sync adds spends to their keys of policy, each unit costing perUnit of
// the budget, and reads back where they stand together with the keys
// other processes changed after since (the At of the previous Sync; zero:
// every key that is not full), in one statement. Keys are locked in
// order, so concurrent syncs of the same keys do not deadlock.
func (s *Store) Sync(ctx context.Context, policy string, perUnit time.Duration, spends []Spend, since time.Time) (Synced, error) {
	sort.Slice(spends, func(i, j int) bool { return string(spends[i].Key) < string(spends[j].Key) })
	keys := make([][]byte, len(spends))
	units := make([]int32, len(spends))
	for i, sp := range spends {
		keys[i], units[i] = sp.Key, int32(sp.Units)
	}
	var after *time.Time
	if !since.IsZero() {
		a := since.Add(-sinceMargin)
		after = &a
	}
	rows, err := s.pool.Query(ctx, `WITH spent AS (
		INSERT INTO rate_limits AS r (policy, key, tat, changed_at)
		SELECT $1, s.key, now() + s.units * $3::float8 * interval '1 microsecond', now()
		FROM unnest($2::bytea[], $4::integer[]) AS s(key, units)
		ORDER BY s.key
		ON CONFLICT (policy, key) DO UPDATE
		SET tat = greatest(r.tat, now()) + (excluded.tat - now()), changed_at = now()
		RETURNING r.key, r.tat)
	SELECT key, (extract(epoch FROM tat - now()) * 1000000)::bigint, now() FROM spent
	UNION ALL
	SELECT key, (extract(epoch FROM tat - now()) * 1000000)::bigint, now() FROM rate_limits
	WHERE policy = $1 AND ($5::timestamptz IS NULL OR changed_at > $5) AND tat > now() AND NOT key = ANY($2)
	UNION ALL
	SELECT NULL, NULL, now()`,
		policy, keys, float64(perUnit)/float64(time.Microsecond), units, after)
	if err != nil {
		return Synced{}, fmt.Errorf("sync rate limits %s: %w", policy, err)
	}
	var (
		out  Synced
		key  []byte
		full *int64 // µs; NULL on the row that only carries the clock
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &full, &out.At}, func() error {
		if full != nil {
			out.Debts = append(out.Debts, Debt{Key: key, Full: time.Duration(*full) * time.Microsecond})
		}
		return nil
	})
	if err != nil {
		return Synced{}, fmt.Errorf("sync rate limits %s: %w", policy, err)
	}
	return out, nil
}

// Sweep deletes the rows whose budget is full again, batch rows per
// statement, skipping rows a sync holds; it returns how many went.
func (s *Store) Sweep(ctx context.Context, batch int) (int64, error) {
	if batch < 1 {
		return 0, fmt.Errorf("rate limit sweep: batch %d is not positive", batch)
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE (policy, key) IN (
			SELECT policy, key FROM rate_limits WHERE tat <= now()
			LIMIT $1 FOR UPDATE SKIP LOCKED)`, batch)
		if err != nil {
			return total, fmt.Errorf("rate limit sweep: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
