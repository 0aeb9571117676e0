package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/eventstore"
)

// TestGuardedAppendsCommitOnlyWhileTheirRowsAreCurrent appends with
// guards over a campaign and a filter row, alone, in concurrent groups
// and inline: each commits while its rows are at the versions it names,
// and one whose row moved fails with ErrGuardFailed and writes nothing,
// without failing the others of its group.
func TestGuardedAppendsCommitOnlyWhileTheirRowsAreCurrent(t *testing.T) {
	t.Parallel()
	for _, group := range []bool{false, true} {
		t.Run(fmt.Sprintf("group_commit=%v", group), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var opts []eventstore.Option
			if group {
				opts = append(opts, eventstore.WithGroupCommit(64, 0))
			}
			s, pool := newStore(t, opts...)
			camp, filter := uuid.New(), uuid.New()
			insertGuarded(t, pool, eventstore.GuardCampaigns, camp, 1)
			insertGuarded(t, pool, eventstore.GuardFilters, filter, 3, camp)
			current := eventstore.Guard{{Table: eventstore.GuardCampaigns, ID: camp, Version: 1},
				{Table: eventstore.GuardFilters, ID: filter, Version: 3}}
			stale := eventstore.Guard{{Table: eventstore.GuardCampaigns, ID: camp, Version: 1},
				{Table: eventstore.GuardFilters, ID: filter, Version: 4}}
			guarded := func(stream string, g eventstore.Guard, ns ...int) eventstore.Append {
				a := appendN(stream, 0, ns...)
				a.Guard = g
				return a
			}
			if _, err := s.Append(ctx, guarded("one", current, 1)); err != nil {
				t.Fatalf("one-event append with a current guard: %v", err)
			}
			if _, err := s.Append(ctx, guarded("several", current, 1, 2)); err != nil {
				t.Fatalf("several-event append with a current guard: %v", err)
			}
			for _, a := range []eventstore.Append{guarded("stale-one", stale, 1), guarded("stale-several", stale, 1, 2)} {
				if _, err := s.Append(ctx, a); !errors.Is(err, eventstore.ErrGuardFailed) {
					t.Fatalf("append %s with a stale guard = %v, want ErrGuardFailed", a.StreamID, err)
				}
			}
			ran := false
			_, err := s.AppendInline(ctx, func(context.Context, pgx.Tx, []eventstore.Record) error { ran = true; return nil },
				guarded("stale-inline", stale, 1))
			if !errors.Is(err, eventstore.ErrGuardFailed) || ran {
				t.Fatalf("inline append with a stale guard = %v (inline ran: %v), want ErrGuardFailed before the inline", err, ran)
			}

			const writers = 20
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					g := current
					if i%4 == 0 {
						g = stale
					}
					_, errs[i] = s.Append(ctx, guarded(fmt.Sprint("w-", i), g, i))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if wantFail := i%4 == 0; wantFail != errors.Is(err, eventstore.ErrGuardFailed) || (!wantFail && err != nil) {
					t.Fatalf("writer %d: %v; want ErrGuardFailed only for every fourth", i, err)
				}
			}
			if n, err := s.Count(ctx); err != nil || n != 3+writers*3/4 {
				t.Fatalf("events = %d, %v; want %d", n, err, 3+writers*3/4)
			}
		})
	}
}

// TestGuardCheckBeforeARead fails a read's batch with ErrGuardFailed when
// a row moved or the guard names a table it cannot check.
func TestGuardCheckBeforeARead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := newStore(t)
	camp := uuid.New()
	insertGuarded(t, pool, eventstore.GuardCampaigns, camp, 2)
	for _, c := range []struct {
		guard eventstore.Guard
		want  error
	}{
		{eventstore.Guard{{Table: eventstore.GuardCampaigns, ID: camp, Version: 2}}, nil},
		{eventstore.Guard{{Table: eventstore.GuardCampaigns, ID: camp, Version: 1}}, eventstore.ErrGuardFailed},
		{eventstore.Guard{{Table: eventstore.GuardTokens, ID: camp, Version: 2}}, eventstore.ErrGuardFailed},
		{eventstore.Guard{{Table: "events", ID: camp, Version: 2}}, eventstore.ErrGuardFailed},
	} {
		b := &pgx.Batch{}
		c.guard.QueueCheck(b)
		read := false
		b.Queue(`SELECT 1`).QueryRow(func(pgx.Row) error { read = true; return nil })
		err := pool.SendBatch(ctx, b).Close()
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("guard %+v: batch = %v, want %v", c.guard, err, c.want)
		}
		if read != (c.want == nil) {
			t.Errorf("guard %+v: the read ran = %v, want %v", c.guard, read, c.want == nil)
		}
	}
}

// TestGuardCheckSQLCountsTheRowsThatMoved: the expression a read embeds
// counts exactly the guard's rows that are not at their versions, and
// counts a row of a table it cannot check as moved.
func TestGuardCheckSQLCountsTheRowsThatMoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := newStore(t)
	camp, filter := uuid.New(), uuid.New()
	insertGuarded(t, pool, eventstore.GuardCampaigns, camp, 2)
	insertGuarded(t, pool, eventstore.GuardFilters, filter, 3, camp)
	campaign := func(v int64) eventstore.GuardedRow {
		return eventstore.GuardedRow{Table: eventstore.GuardCampaigns, ID: camp, Version: v}
	}
	filt := func(v int64) eventstore.GuardedRow {
		return eventstore.GuardedRow{Table: eventstore.GuardFilters, ID: filter, Version: v}
	}
	for _, c := range []struct {
		guard eventstore.Guard
		moved int64
	}{
		{nil, 0},
		{eventstore.Guard{campaign(2), filt(3)}, 0},
		{eventstore.Guard{campaign(1), filt(3)}, 1},
		{eventstore.Guard{campaign(2), filt(4)}, 1},
		{eventstore.Guard{{Table: eventstore.GuardTokens, ID: camp, Version: 2}, campaign(3), filt(2)}, 3},
		{eventstore.Guard{{Table: "events", ID: camp, Version: 2}, campaign(2)}, 1},
	} {
		expr, args := c.guard.CheckSQL()
		var moved int64
		if err := pool.QueryRow(ctx, `SELECT `+expr, args...).Scan(&moved); err != nil || moved != c.moved {
			t.Errorf("guard %+v: %d rows moved (%v), want %d", c.guard, moved, err, c.moved)
		}
	}
}

// insertGuarded writes a row a guard can name, at version: a campaign of
// the test account, or (with its campaign) a filter.
func insertGuarded(t *testing.T, pool *pgxpool.Pool, table string, id uuid.UUID, version int64, campaign ...uuid.UUID) {
	t.Helper()
	var err error
	switch table {
	case eventstore.GuardCampaigns:
		_, err = pool.Exec(context.Background(), `INSERT INTO campaigns (id, account_id, name, schema, version, created_at, updated_at)
			VALUES ($1, $2, 'c', '{}', $3, now(), now())`, id, account, version)
	case eventstore.GuardFilters:
		_, err = pool.Exec(context.Background(), `INSERT INTO filters (id, campaign_id, account_id, name, conditions, version)
			VALUES ($1, $2, $3, 'f', '[]', $4)`, id, campaign[0], account, version)
	default:
		t.Fatalf("insertGuarded: no rows of %s", table)
	}
	if err != nil {
		t.Fatal(err)
	}
}
