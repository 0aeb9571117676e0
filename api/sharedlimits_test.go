package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/ratelimits"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// limitsDB is a migrated schema of this test's own.
func limitsDB(t *testing.T) string {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatal(err)
	}
	return url
}

// process is one process's shared limiter on pool, synced once as
// `leadsvc serve` does before it listens.
func process(t *testing.T, pool *pgxpool.Pool, p api.Policy, interval time.Duration, logger *slog.Logger) *api.SharedLimiter {
	t.Helper()
	l := api.NewSharedLimiter(api.SharedLimiterConfig{Policy: p, Store: ratelimits.New(pool), Interval: interval, Logger: logger})
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSharedLimitersSpendOneBudgetAndSurviveARestart: what one process
// spent, another refuses after a sync, even for a key it never saw, and
// so does a process started afterwards; other keys stay full.
func TestSharedLimitersSpendOneBudgetAndSurviveARestart(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t, limitsDB(t))
	ctx := context.Background()
	p := api.Policy{Name: "default", Quota: 30, Window: time.Minute}
	a, b := process(t, pool, p, 0, nil), process(t, pool, p, 0, nil)
	granted := 0
	for a.Take("token-1", 1).OK {
		granted++
	}
	if granted != 30 {
		t.Fatalf("process a granted %d, want the quota of 30", granted)
	}
	if d := b.Take("token-1", 0); !d.OK {
		t.Fatalf("before syncing, process b already refuses: %+v", d)
	}
	for _, l := range []*api.SharedLimiter{a, b} {
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := b.Take("token-1", 1); d.OK || d.Remaining != 0 || d.Retry <= 0 || d.Retry > 2*time.Second {
		t.Fatalf("process b after a sync = %+v, want refused, about 2 s to wait", d)
	}
	restarted := process(t, pool, p, 0, nil)
	if d := restarted.Take("token-1", 1); d.OK || d.Reset < 55*time.Second || d.Reset > time.Minute {
		t.Fatalf("a restarted process = %+v, want refused, full again in about a minute", d)
	}
	if d := restarted.Take("token-2", 1); !d.OK || d.Remaining != 29 {
		t.Fatalf("another key = %+v, want a full budget", d)
	}
	var keys int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM rate_limits WHERE key = convert_to('token-1', 'UTF8')`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 0 {
		t.Fatal("the table holds a key in clear")
	}
}

// TestSharedLimitersBoundWhatTheyGrantTogether: two processes syncing
// every 50 ms, asked as fast as they answer for 4 s from a full budget.
// At first each grants the budget it sees full: the burst docs/api.md
// allows. That is paid back: over the whole run they grant the quota,
// the rate, and what each grants in a sync interval (here up to 500 ms
// on a loaded machine) before seeing the other, where each alone would
// grant the quota and the rate. Every unit granted is in the shared
// budget afterwards.
func TestSharedLimitersBoundWhatTheyGrantTogether(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t, limitsDB(t))
	p := api.Policy{Name: "default", Quota: 20, Window: 2 * time.Second} // 10 a second
	const interval = 50 * time.Millisecond
	perUnit := p.Window / time.Duration(p.Quota)
	ctx, cancel := context.WithCancel(context.Background())
	var runs sync.WaitGroup
	procs := []*api.SharedLimiter{process(t, pool, p, interval, nil), process(t, pool, p, interval, nil)}
	for _, l := range procs {
		runs.Go(func() { l.Run(ctx) })
	}
	start := time.Now()
	burstEnd, end := start.Add(50*time.Millisecond), start.Add(4*time.Second)
	var burst, total atomic.Int64
	var askers sync.WaitGroup
	for _, l := range procs {
		askers.Go(func() {
			for now := time.Now(); now.Before(end); now = time.Now() {
				if l.Take("token", 1).OK {
					total.Add(1)
					if now.Before(burstEnd) {
						burst.Add(1)
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	askers.Wait()
	cancel()
	runs.Wait() // each has synced a last time
	elapsed := time.Since(start)

	if n := burst.Load(); n > int64(len(procs)*p.Quota) {
		t.Fatalf("in a burst the processes granted %d, more than each its quota of %d", n, p.Quota)
	}
	refilled := int64(elapsed / perUnit)
	unseen := int64(len(procs)) * int64(500*time.Millisecond/perUnit)
	if n := total.Load(); n > int64(p.Quota)+refilled+unseen || n < int64(p.Quota)+refilled/2 {
		t.Fatalf("in %v the processes granted %d, want the quota %d, the %d refilled and at most %d unseen",
			elapsed, n, p.Quota, refilled, unseen)
	}
	// Every unit granted is charged: the shared budget is as far from
	// full as the units granted beyond what refilled.
	owed := time.Duration(total.Load())*perUnit - elapsed
	d := process(t, pool, p, interval, nil).Take("token", 0)
	if d.Reset < owed-200*time.Millisecond {
		t.Fatalf("granted %d in %v, the shared budget is full again in %v, want at least %v", total.Load(), elapsed, d.Reset, owed)
	}
	t.Logf("granted %d in %v (a burst of %d), where the quota and the rate allow %d; full again in %v",
		total.Load(), elapsed.Round(time.Millisecond), burst.Load(), int64(p.Quota)+refilled, d.Reset.Round(time.Millisecond))
}

// TestSharedLimiterDecidesAloneWhenSyncFails: while the table cannot be
// written, a process keeps deciding from its own counts and keeps what
// it spent for the next sync that works; with its database closed, it
// logs the failure once and still answers.
func TestSharedLimiterDecidesAloneWhenSyncFails(t *testing.T) {
	t.Parallel()
	url := limitsDB(t)
	admin := testenv.Pool(t, url)
	ctx := context.Background()
	p := api.Policy{Name: "default", Quota: 10, Window: time.Hour}
	perUnit := p.Window / time.Duration(p.Quota)
	a := process(t, admin, p, 0, nil)
	if _, err := admin.Exec(ctx, `ALTER TABLE rate_limits RENAME TO rate_limits_away`); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if d := a.Take("token", 1); !d.OK {
			t.Fatalf("take while the table is away: %+v", d)
		}
	}
	if err := a.Sync(ctx); err == nil {
		t.Fatal("a sync without its table succeeded")
	}
	if d := a.Take("token", 0); !d.OK || d.Remaining != 6 {
		t.Fatalf("after a failed sync = %+v, want the 6 left of this process's count", d)
	}
	if _, err := admin.Exec(ctx, `ALTER TABLE rate_limits_away RENAME TO rate_limits`); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d := process(t, admin, p, 0, nil).Take("token", 0); d.Remaining != 6 || d.Reset < 4*perUnit-time.Minute {
		t.Fatalf("another process after the sync that worked = %+v, want the 4 units spent during the failure charged", d)
	}

	pool := testenv.Pool(t, url)
	logs := &testenv.SyncBuffer{}
	b := process(t, pool, p, 10*time.Millisecond, slog.New(slog.NewJSONHandler(logs, nil)))
	pool.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.Run(runCtx); close(done) }()
	testenv.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "rate limit sync failed") {
			return errTooEarly
		}
		return nil
	})
	granted := 0
	for b.Take("token", 1).OK {
		granted++
	}
	cancel()
	<-done
	if granted != 6 {
		t.Fatalf("with its database closed, the process granted %d, want the 6 left when it last synced", granted)
	}
	if n := strings.Count(logs.String(), "rate limit sync failed"); n != 1 {
		t.Fatalf("%d failure lines, want one until a sync works again:\n%s", n, logs)
	}
}

var errTooEarly = errorString("not logged yet")

type errorString string

func (e errorString) Error() string { return string(e) }

// BenchmarkLimiterTake is what deciding costs a request: a shared
// limiter adds a SHA-256 of the key to the memory one, and no round trip.
func BenchmarkLimiterTake(b *testing.B) {
	p := api.Policy{Name: "default", Quota: 1 << 30, Window: time.Minute}
	for name, l := range map[string]api.Limiter{
		"memory": api.NewMemoryLimiter(p, 0, nil),
		"shared": api.NewSharedLimiter(api.SharedLimiterConfig{Policy: p}),
	} {
		b.Run(name, func(b *testing.B) {
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("0b9b1a52-5c1e-4b8e-9d51-%012d", i)
			}
			i := 0
			for b.Loop() {
				if !l.Take(keys[i%len(keys)], 1).OK {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}
