package projections

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// roundTrips counts what a pool sends: each batch and each statement
// outside a batch is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedPool is a pool of a migrated schema of its own whose round trips
// are counted.
func tracedPool(t *testing.T) (*pgxpool.Pool, *roundTrips) {
	t.Helper()
	testenv.Integration(t)
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE pipe_rows (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return pool, rt
}

// readThenWrite reads in one batch and queues its write at commit, as the
// lead projection does with a batch of lead events.
type readThenWrite struct {
	n    int
	read int
}

func (p *readThenWrite) Name() string { return "pipe_test" }

func (p *readThenWrite) Apply(ctx context.Context, tx pgx.Tx, _ []Event) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(42)`)
	b.Queue(`SELECT count(*) FROM pipe_rows`).QueryRow(func(r pgx.Row) error { return r.Scan(&p.read) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	w := &pgx.Batch{}
	w.Queue(`INSERT INTO pipe_rows VALUES ($1)`, p.n)
	return QueueAtCommit(ctx, tx, w)
}

func testRunner(pool *pgxpool.Pool) *Runner {
	return &Runner{pool: pool, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: mustMetrics()}
}

func mustMetrics() *metrics {
	m, err := newMetrics(nil)
	if err != nil {
		panic(err)
	}
	return m
}

func TestAProjectionTransactionIsTwoRoundTrips(t *testing.T) {
	pool, rt := tracedPool(t)
	ctx := context.Background()
	// Each statement's first use prepares it; count a warm run.
	r := testRunner(pool)
	ev := []Event{{TxID: 7, Position: 1}}
	if err := r.apply(ctx, &readThenWrite{n: 1}, ev); err != nil {
		t.Fatal(err)
	}
	rt.n.Store(0)
	p := &readThenWrite{n: 2}
	if err := r.apply(ctx, p, []Event{{TxID: 8, Position: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := rt.n.Load(); got != 2 {
		t.Errorf("an apply took %d round trips, want 2 (BEGIN with the reads; writes, checkpoint and COMMIT)", got)
	}
	if p.read != 1 {
		t.Errorf("the second apply read %d rows, want the 1 the first committed", p.read)
	}
	var rows, pos int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pipe_rows), (SELECT position FROM projection_checkpoints WHERE name = 'pipe_test')`).
		Scan(&rows, &pos); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || pos != 2 {
		t.Errorf("after two applies: %d rows, checkpoint at %d; want 2 and 2", rows, pos)
	}
}

func TestAFailedWriteAtCommitUndoesTheWholeApply(t *testing.T) {
	pool, _ := tracedPool(t)
	ctx := context.Background()
	r := testRunner(pool)
	if err := r.apply(ctx, &readThenWrite{n: 1}, []Event{{TxID: 7, Position: 1}}); err != nil {
		t.Fatal(err)
	}
	// The same row again: the write queued at commit fails, so neither it
	// nor the checkpoint may stay.
	err := r.apply(ctx, &readThenWrite{n: 1}, []Event{{TxID: 8, Position: 2}})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("apply of a duplicate row: %v, want a unique violation", err)
	}
	var pos int64
	if err := pool.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE name = 'pipe_test'`).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if pos != 1 {
		t.Errorf("checkpoint at %d after a failed apply, want 1", pos)
	}
	// Both connections of the pool are usable and outside any transaction.
	for range 4 {
		if err := r.apply(ctx, &readThenWrite{n: 3}, []Event{{TxID: 9, Position: 3}}); err == nil {
			break
		}
	}
	var rows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pipe_rows`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("%d rows after a failed and a good apply, want 2", rows)
	}
}

// failing fails after it has written, in its own round trip and at commit.
type failing struct{}

func (failing) Name() string { return "pipe_test" }

func (failing) Apply(ctx context.Context, tx pgx.Tx, _ []Event) error {
	// The first batch carries BEGIN; read one by one, it shows its own
	// results only.
	b := &pgx.Batch{}
	b.Queue(`SELECT 5`)
	br := tx.SendBatch(ctx, b)
	var five int
	if err := br.QueryRow().Scan(&five); err != nil || five != 5 {
		_ = br.Close()
		return errors.Join(err, errors.New("a batch read one by one did not see its own first result"))
	}
	if err := br.Close(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pipe_rows VALUES (100)`); err != nil {
		return err
	}
	return errors.New("refused")
}

func TestAnApplyThatFailsLeavesNothing(t *testing.T) {
	pool, _ := tracedPool(t)
	ctx := context.Background()
	if err := testRunner(pool).apply(ctx, failing{}, []Event{{TxID: 7, Position: 1}}); err == nil || err.Error() != "refused" {
		t.Fatalf("apply: %v, want the projection's own error", err)
	}
	var rows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pipe_rows`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows after a failed apply, want 0", rows)
	}
}
