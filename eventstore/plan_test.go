package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestReadAllPlanIsOrderedIndexThenPrimaryKey explains a page of the log
// (what the relay and every catch-up read) on 30,000 events committed in
// 300 transactions, with no statistics (autovacuum off, no ANALYZE) and
// after ANALYZE, at the log's end and at its start: the positions come
// from the commit-order index in order, the rows by primary key, and
// nothing scans, hashes or sorts the table.
func TestReadAllPlanIsOrderedIndexThenPrimaryKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := newStore(t)
	if _, err := pool.Exec(ctx, `ALTER TABLE events SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DO $$ BEGIN FOR i IN 1..300 LOOP
		INSERT INTO events (stream_id, stream_version, event_id, event_type, account_id, data, recorded_at, hash)
		SELECT 's-' || gen_random_uuid(), 1, gen_random_uuid(), 'test.noted', gen_random_uuid(), '{"n": 1}', now(), '\x00'
		FROM generate_series(1, 100);
		COMMIT; END LOOP; END $$`); err != nil {
		t.Fatal(err)
	}
	type at struct {
		name   string
		offset int
	}
	for _, stats := range []string{"no statistics", "analyzed"} {
		if stats == "analyzed" {
			if _, err := pool.Exec(ctx, `ANALYZE events`); err != nil {
				t.Fatal(err)
			}
		}
		for _, where := range []at{{"the end", 50}, {"the start", 30000}} {
			var tx string
			var pos int64
			if err := pool.QueryRow(ctx, `SELECT tx_id::text, position FROM events ORDER BY position DESC OFFSET $1 LIMIT 1`,
				where.offset-1).Scan(&tx, &pos); err != nil {
				t.Fatal(err)
			}
			var plan string
			err := pgx.BeginFunc(ctx, pool, func(dbtx pgx.Tx) error {
				if _, err := dbtx.Exec(ctx, eventstore.PinReadAllPlan); err != nil {
					return err
				}
				return dbtx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+eventstore.ReadAllSQL, tx, pos, 2000).Scan(&plan)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := pageByIndexes(plan); err != nil {
				t.Errorf("%s, a page from %s: %v\n%s", stats, where.name, err, plan)
			}
		}
	}
}

// pageByIndexes checks that plan reads events only through the
// commit-order index and the primary key.
func pageByIndexes(plan string) error {
	nodes, err := testenv.PlanNodes(plan)
	if err != nil {
		return err
	}
	var indexes []string
	for _, n := range nodes {
		switch typ := fmt.Sprint(n["Node Type"]); typ {
		case "Index Scan", "Index Only Scan":
			indexes = append(indexes, fmt.Sprint(n["Index Name"]))
		case "Result", "Limit":
		default:
			return fmt.Errorf("a %s node", typ)
		}
	}
	if got := strings.Join(indexes, ", "); got != "events_pkey, events_global_order" {
		return fmt.Errorf("indexes %s, want events_pkey, events_global_order", got)
	}
	return nil
}
