package eventstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrGuardFailed: a row a guard names is no longer at the version it was
// read at. Nothing was written.
var ErrGuardFailed = errors.New("a row the request was decided from has changed")

// Guard is what a write or a read was decided from besides its stream:
// rows of the views kept in the log's own transactions, each at the
// version it was read at. An append with a guard commits only while every
// row is still at its version, checked in the append's transaction and
// round trip; QueueCheck does the same for a read.
type Guard []GuardedRow

// GuardedRow is one row a decision was made from.
type GuardedRow struct {
	Table   string // GuardTokens, GuardCampaigns or GuardFilters
	ID      uuid.UUID
	Version int64
}

// The tables a guard can name: each row's version moves with every
// event of its stream.
const (
	GuardTokens    = "tokens"
	GuardCampaigns = "campaigns"
	GuardFilters   = "filters"
)

// guardSQLState is what leadsvc_assert_current raises.
const guardSQLState = "LS412"

// staleRowsSQL counts the rows of a guard ($1 tables, $2 ids, $3
// versions) that are not at their versions. It is written into each
// statement rather than called as the SQL function leadsvc_stale_rows:
// PostgreSQL plans a SQL function's body again on every call, which cost
// a guarded page more than its other statements together; written out,
// it is planned once with the statement that holds it.
const staleRowsSQL = `(SELECT count(*) FROM unnest($1::text[], $2::uuid[], $3::bigint[]) AS r(tbl, id, version)
	WHERE NOT coalesce(CASE r.tbl
		WHEN 'tokens' THEN EXISTS (SELECT 1 FROM tokens t WHERE t.id = r.id AND t.version = r.version)
		WHEN 'campaigns' THEN EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.id AND c.version = r.version)
		WHEN 'filters' THEN EXISTS (SELECT 1 FROM filters f WHERE f.id = r.id AND f.version = r.version)
	END, false))`

const assertGuardSQL = `SELECT leadsvc_refuse_stale(` + staleRowsSQL + `)`

// CheckSQL is the guard's check as an expression for a read's own
// statement: it counts the rows that have moved, taking args as $1 …
// $n. A read that finds it above zero must fail with ErrGuardFailed.
// Unlike staleRowsSQL, which takes any number of rows in three arrays
// (a group commit's guards together), it probes each row by scalars:
// half the server time for the guard of one token, its campaign and its
// filter, and a read's guard has at most those three rows, so the
// statement's text takes few shapes.
func (g Guard) CheckSQL() (expr string, args []any) {
	if len(g) == 0 {
		return "0", nil
	}
	var sb strings.Builder
	args = make([]any, 0, 2*len(g))
	for i, r := range g {
		if i > 0 {
			sb.WriteString(" + ")
		}
		switch r.Table {
		case GuardTokens, GuardCampaigns, GuardFilters:
			args = append(args, r.ID, r.Version)
			fmt.Fprintf(&sb, "(NOT EXISTS (SELECT 1 FROM %s WHERE id = $%d AND version = $%d))::int", r.Table, len(args)-1, len(args))
		default:
			// No row of an unknown table can be current.
			sb.WriteString("1")
		}
	}
	return sb.String(), args
}

func (g Guard) args() []any {
	tables, ids, versions := make([]string, len(g)), make([]uuid.UUID, len(g)), make([]int64, len(g))
	for i, r := range g {
		tables[i], ids[i], versions[i] = r.Table, r.ID, r.Version
	}
	return []any{tables, ids, versions}
}

// QueueCheck queues a check of g into b, to run before the read queued
// after it, in the same round trip: the batch fails with ErrGuardFailed
// when a row moved. An empty guard queues nothing.
func (g Guard) QueueCheck(b *pgx.Batch) {
	if len(g) == 0 {
		return
	}
	expr, args := g.CheckSQL()
	b.Queue(`SELECT `+expr, args...).QueryRow(func(row pgx.Row) error {
		var stale int64
		if err := row.Scan(&stale); err != nil {
			return fmt.Errorf("check guard: %w", err)
		}
		if stale > 0 {
			return ErrGuardFailed
		}
		return nil
	})
}

// guardOf is every row the appends' guards name.
func guardOf(encs ...encoded) Guard {
	var g Guard
	for _, e := range encs {
		g = append(g, e.app.Guard...)
	}
	return g
}

// asGuardFailure turns the database's refusal of a guard into
// ErrGuardFailed.
func asGuardFailure(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == guardSQLState {
		return ErrGuardFailed
	}
	return err
}
