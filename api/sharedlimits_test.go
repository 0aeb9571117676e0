package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands/ratelimits"
	"github.com/leadsvc/leadsvc/eventstore"
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
// every 50 ms. At first both hold a full budget and both grant it: the
// burst docs/api.md allows. Then, asked as fast as they answer for 2 s,
// they grant the rate plus about processes × interval × rate, where each
// alone would grant the rate. Every unit granted is in the shared budget
// afterwards: what they overshoot is paid back.
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
	// ask asks both processes as fast as they answer until end and
	// returns how many units they granted.
	ask := func(end time.Time) int64 {
		var granted atomic.Int64
		var askers sync.WaitGroup
		for _, l := range procs {
			askers.Go(func() {
				for time.Now().Before(end) {
					if l.Take("token", 1).OK {
						granted.Add(1)
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		askers.Wait()
		return granted.Load()
	}
	start := time.Now()
	burst := ask(start.Add(50 * time.Millisecond))
	if burst > int64(len(procs)*p.Quota+2) {
		t.Fatalf("in a burst the processes granted %d, more than each its quota of %d", burst, p.Quota)
	}
	// Wait for the shared budget to hold the whole burst, then for what
	// it overshot to be paid back.
	testenv.CheckFor(t, 10*time.Second, func() error {
		if d := process(t, pool, p, interval, nil).Take("token", 0); d.Reset < time.Duration(burst)*perUnit-time.Since(start)-100*time.Millisecond {
			return errorString("the burst is not all synced yet")
		}
		return nil
	})
	testenv.CheckFor(t, 10*time.Second, func() error {
		for _, l := range append(procs, process(t, pool, p, interval, nil)) {
			if d := l.Take("token", 0); !d.OK || d.Remaining > 1 {
				return errorString("the burst is not paid back yet")
			}
		}
		return nil
	})
	paidBack := time.Now()
	steady := ask(paidBack.Add(2 * time.Second))
	cancel()
	runs.Wait() // each has synced a last time
	elapsed := time.Since(start)

	// The rate is 20 units in 2 s; each process alone would grant 20.
	// Allow each process 250 ms of unseen rate: the interval plus a slow
	// sync on a loaded machine.
	if steady < 15 || steady > 25 {
		t.Fatalf("in 2 s the two processes granted %d, want about 20 (at most 25)", steady)
	}
	// Every unit granted is charged: the shared budget is as far from
	// full as the units granted beyond what refilled.
	total := burst + steady
	owed := time.Duration(total)*perUnit - elapsed
	d := process(t, pool, p, interval, nil).Take("token", 0)
	if d.Reset < owed-200*time.Millisecond {
		t.Fatalf("granted %d in %v, the shared budget is full again in %v, want at least %v", total, elapsed, d.Reset, owed)
	}
	t.Logf("burst %d, then %d in 2 s (rate 20 in 2 s); full again in %v, owed %v", burst, steady, d.Reset, owed)
}

// syncBuffer is a log destination tests read while the limiter writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

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
	logs := &syncBuffer{}
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
