package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeTx is a projection's transaction sent in as few round trips as its
// statements allow: BEGIN travels with the first statement or batch, and
// what the projection queues with QueueAtCommit travels with the
// checkpoint and COMMIT. A live batch of lead events is then two round
// trips (locks and reads; writes, checkpoint and commit) instead of five.
// Each round trip is a wait for a core on a busy machine, and that wait,
// not the statements, is most of the append-to-visible lag.
type pipeTx struct {
	conn     *pgxpool.Conn
	begun    bool
	finished bool
	atCommit []*pgx.QueuedQuery
}

// beginSQL opens the transaction. Projections are rebuildable from the log
// and catch up from their checkpoint, saved in the same transaction, so
// their commits need not wait for the disk.
var beginSQL = [...]string{`BEGIN`, `SET LOCAL synchronous_commit = off`}

func beginPipeTx(ctx context.Context, pool *pgxpool.Pool) (*pipeTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pipeTx{conn: conn}, nil
}

// QueueAtCommit queues b's statements to run in tx's commit round trip
// when tx is a projection runner's transaction, or runs them now
// otherwise. Their errors fail the commit. Only statements whose results
// nothing reads before the commit belong here: writes.
func QueueAtCommit(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if p, ok := tx.(*pipeTx); ok && !p.finished {
		p.atCommit = append(p.atCommit, b.QueuedQueries...)
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

func (t *pipeTx) begin(ctx context.Context) error {
	if t.finished {
		return pgx.ErrTxClosed
	}
	if t.begun {
		return nil
	}
	t.begun = true
	// No arguments: one simple-protocol message carrying both statements.
	_, err := t.conn.Exec(ctx, beginSQL[0]+"; "+beginSQL[1])
	return err
}

// withBegin prepends BEGIN to b when the transaction has not begun; it
// reports how many results were prepended.
func (t *pipeTx) withBegin(b *pgx.Batch) (*pgx.Batch, int) {
	if t.begun {
		return b, 0
	}
	t.begun = true
	nb := &pgx.Batch{}
	for _, s := range beginSQL {
		nb.Queue(s)
	}
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	return nb, len(beginSQL)
}

func (t *pipeTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("projections: nested transactions are not supported")
}

// Commit sends what was queued at commit, then COMMIT, in one round trip.
func (t *pipeTx) Commit(ctx context.Context) error {
	if t.finished {
		return pgx.ErrTxClosed
	}
	b := &pgx.Batch{QueuedQueries: t.atCommit}
	b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
		if ct.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	b, _ = t.withBegin(b)
	err := t.conn.SendBatch(ctx, b).Close()
	if err != nil {
		t.abort(ctx)
		return err
	}
	t.finished = true
	t.conn.Release()
	return nil
}

func (t *pipeTx) Rollback(ctx context.Context) error {
	if t.finished {
		return pgx.ErrTxClosed
	}
	t.abort(ctx)
	return nil
}

// abort rolls back whatever is open and gives the connection back; a
// connection that cannot roll back is closed rather than reused.
func (t *pipeTx) abort(ctx context.Context) {
	t.finished = true
	if t.begun {
		if _, err := t.conn.Exec(ctx, `ROLLBACK`); err != nil {
			_ = t.conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}
	t.conn.Release()
}

func (t *pipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return t.conn.CopyFrom(ctx, table, cols, src)
}

func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.finished {
		return errBatch{pgx.ErrTxClosed}
	}
	b, skip := t.withBegin(b)
	br := t.conn.SendBatch(ctx, b)
	if skip == 0 {
		return br
	}
	return &skippingResults{BatchResults: br, skip: skip}
}

func (t *pipeTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (t *pipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Conn().Prepare(ctx, name, sql)
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.conn.Exec(ctx, sql, args...)
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

func (t *pipeTx) Conn() *pgx.Conn { return t.conn.Conn() }

// skippingResults hides the results of the statements a batch was given
// ahead of the caller's, so that a caller reading results one by one sees
// its own first.
type skippingResults struct {
	pgx.BatchResults
	skip int
}

func (s *skippingResults) skipped() error {
	for ; s.skip > 0; s.skip-- {
		if _, err := s.BatchResults.Exec(); err != nil {
			s.skip = 0
			return fmt.Errorf("begin: %w", err)
		}
	}
	return nil
}

func (s *skippingResults) Exec() (pgconn.CommandTag, error) {
	if err := s.skipped(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return s.BatchResults.Exec()
}

func (s *skippingResults) Query() (pgx.Rows, error) {
	if err := s.skipped(); err != nil {
		return nil, err
	}
	return s.BatchResults.Query()
}

func (s *skippingResults) QueryRow() pgx.Row {
	if err := s.skipped(); err != nil {
		return errRow{err}
	}
	return s.BatchResults.QueryRow()
}

type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatch) QueryRow() pgx.Row                { return errRow(e) }
func (e errBatch) Close() error                     { return e.err }
func (e errBatch) Tx() pgx.Tx                       { return nil }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }
