package eventstore

import (
	"errors"
	"fmt"

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

const (
	assertGuardSQL = `SELECT leadsvc_assert_current($1::text[], $2::uuid[], $3::bigint[])`
	checkGuardSQL  = `SELECT leadsvc_stale_rows($1::text[], $2::uuid[], $3::bigint[])`
)

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
	b.Queue(checkGuardSQL, g.args()...).QueryRow(func(row pgx.Row) error {
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
