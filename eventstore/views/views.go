// Package views owns the tables that commands keep in step with events,
// written inside the append's transaction through eventstore.Inline
// (invariant 5): campaigns, filters, tokens and their secrets, accounts,
// file bytes, idempotency keys and webhook subscriptions. It offers typed
// reads and upserts; no other package names these tables in SQL.
package views

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/eventstore"
)

// Views reads the inline views and builds the steps that write them.
type Views struct {
	pool    *pgxpool.Pool
	schemas schemaCache
}

// New returns the views of the database pool reaches.
func New(pool *pgxpool.Pool) *Views { return &Views{pool: pool} }

// Of returns the views of the store's database.
func Of(store *eventstore.Store) *Views { return New(store.Pool()) }

// Chain runs steps in order in one transaction. No step at all is a nil
// Inline, so that the append may share a group commit with others.
func Chain(steps ...eventstore.Inline) eventstore.Inline {
	var live []eventstore.Inline
	for _, s := range steps {
		if s != nil {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		for _, s := range live {
			if err := s(ctx, tx, recs); err != nil {
				return err
			}
		}
		return nil
	}
}

// Step runs fn in the transaction with the write's records, for work that
// reads no table: an error from fn rolls the write back.
func Step(fn func(recs []eventstore.Record) error) eventstore.Inline {
	return func(_ context.Context, _ pgx.Tx, recs []eventstore.Record) error { return fn(recs) }
}

// Later builds its steps when the transaction runs, from state decided
// after the step was handed over (eventstore.Update's Decide).
func Later(build func() eventstore.Inline) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		if step := build(); step != nil {
			return step(ctx, tx, recs)
		}
		return nil
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

// CheckGuard checks a guard on its own, for a request whose first round
// trip cannot carry it: eventstore.ErrGuardFailed when a row has moved.
func (v *Views) CheckGuard(ctx context.Context, g eventstore.Guard) error {
	if len(g) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	g.QueueCheck(b)
	return v.pool.SendBatch(ctx, b).Close()
}
