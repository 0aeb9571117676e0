package ratelimits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/ratelimits"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

func newStore(t *testing.T) (*ratelimits.Store, *pgxpool.Pool) {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatal(err)
	}
	pool := testenv.Pool(t, url)
	return ratelimits.New(pool), pool
}

// Spends add up whoever syncs them; a sync reads back every spent key
// and the keys the others changed, and nothing of another policy.
func TestSyncAddsSpendsAndReadsTheOthers(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	first, err := s.Sync(ctx, "default", time.Second, []ratelimits.Spend{{Key: []byte("a"), Units: 10}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Debts) != 1 || first.Debts[0].Full < 9*time.Second || first.Debts[0].Full > 10*time.Second || first.At.IsZero() {
		t.Fatalf("first sync = %+v, want key a 10 s from full", first)
	}
	if _, err := s.Sync(ctx, "address", time.Second, []ratelimits.Spend{{Key: []byte("a"), Units: 50}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	other, err := s.Sync(ctx, "default", time.Second, []ratelimits.Spend{{Key: []byte("b"), Units: 1}, {Key: []byte("a"), Units: 5}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, d := range other.Debts {
		got[string(d.Key)] = d.Full
	}
	if len(got) != 2 || got["a"] < 14*time.Second || got["a"] > 15*time.Second || got["b"] > time.Second || got["b"] < 0 {
		t.Fatalf("second process's sync = %v, want a at 15 s (both processes' spending) and b at 1 s", got)
	}
	again, err := s.Sync(ctx, "default", time.Second, nil, first.At)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Debts) != 2 {
		t.Fatalf("the first process's next sync reads %d keys, want the 2 the other changed", len(again.Debts))
	}
}

// Rows whose budget is full again are swept; the others stay.
func TestSweepDeletesFullBudgets(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	if _, err := s.Sync(ctx, "default", time.Millisecond, []ratelimits.Spend{{Key: []byte("soon"), Units: 1}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sync(ctx, "default", time.Hour, []ratelimits.Spend{{Key: []byte("later"), Units: 1}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		n, err := s.Sweep(ctx, 1)
		if err != nil {
			return err
		}
		var keys []string
		if err := pool.QueryRow(ctx, `SELECT array_agg(convert_from(key, 'UTF8')) FROM rate_limits`).Scan(&keys); err != nil {
			return err
		}
		if len(keys) != 1 || keys[0] != "later" {
			return fmt.Errorf("swept %d, rows left %v; want only later", n, keys)
		}
		return nil
	})
	if _, err := s.Sweep(ctx, 0); err == nil {
		t.Fatal("a sweep of batch 0 was accepted")
	}
}
