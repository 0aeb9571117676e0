package commands_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/commands"
)

func (e *env) idempotencyKeys() map[string]bool {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT key FROM idempotency_keys`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			e.t.Fatal(err)
		}
		keys[k] = true
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// Keys older than 24 hours are deleted in batches; younger ones stay and
// still replay; a row a request holds (one finishing now) is skipped
// rather than waited for, and goes in a later sweep.
func TestExpiredIdempotencyKeysAreSwept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	create := func(key string) commands.LeadResult {
		t.Helper()
		res, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: p.scope(),
			Fields: map[string]any{"name": key}, Idem: &commands.Idempotency{TokenID: p.token.ID.String(), Key: key,
				Fingerprint: commands.Fingerprint([]byte("POST /v1/leads"), []byte(key))}})
		if err != nil {
			t.Fatalf("CreateLead %s: %v", key, err)
		}
		return res
	}
	for i := range 5 {
		create(fmt.Sprint("old-", i))
	}
	e.clock.advance(12 * time.Hour)
	young := create("young")
	e.clock.advance(12*time.Hour + time.Second)
	// A request that has just claimed its key.
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, created_at, expires_at)
		VALUES ($1, 'running', '\x00', 'running', $2, $3)`, p.token.ID.String(), e.clock.now(), e.clock.now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An expired row held by an open transaction.
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(e.ctx) }()
	if _, err := tx.Exec(e.ctx, `SELECT 1 FROM idempotency_keys WHERE key = 'old-0' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	n, err := e.c.SweepIdempotencyKeys.Handle(ctx, commands.SweepIdempotencyKeys{Batch: 2})
	if err != nil || n != 4 {
		t.Fatalf("SweepIdempotencyKeys = %d, %v; want the 4 expired keys no one holds", n, err)
	}
	got := e.idempotencyKeys()
	for _, k := range []string{"old-0", "young", "running"} {
		if !got[k] {
			t.Errorf("key %s was swept; kept: %v", k, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("kept %v, want old-0 (held), young and running", got)
	}
	if err := tx.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.c.SweepIdempotencyKeys.Handle(e.ctx, commands.SweepIdempotencyKeys{Batch: 2}); err != nil || n != 1 {
		t.Fatalf("second sweep = %d, %v; want the one that was held", n, err)
	}
	if again := create("young"); !again.Replayed || again.Lead.ID != young.Lead.ID {
		t.Fatalf("the young key no longer replays: %+v", again)
	}
}

// Several processes sweep at once without waiting on each other or
// deleting a row twice.
func TestIdempotencySweepersShareTheWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	past := e.clock.now().Add(-25 * time.Hour)
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, result, created_at, expires_at)
		SELECT 'token', 'k' || i, '\x00', 'done', '{}', $1, $2 FROM generate_series(1, 500) i`, past, past.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.c.SweepIdempotencyKeys.Handle(e.ctx, commands.SweepIdempotencyKeys{Batch: 7})
			if err != nil {
				t.Errorf("SweepIdempotencyKeys: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if left := len(e.idempotencyKeys()); total != 500 || left != 0 {
		t.Fatalf("swept %d in all, %d left; want 500 and 0", total, left)
	}
}
