package testenv

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/internal/benchresults"
)

// Hammer runs op from writers goroutines for window and returns the number
// of completed operations per second. An error of op while the window is
// open fails the benchmark; one caused by the window closing is not
// counted.
func Hammer(b *testing.B, writers int, window time.Duration, op func(ctx context.Context) error) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						failed.Store(err)
						cancel()
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// RawInsertRate is the physical limit the benchmarks compare with: one-row
// INSERT transactions of data into a plain table (bigint identity, text,
// jsonb) from writers goroutines sharing pool, for window.
func RawInsertRate(b *testing.B, pool *pgxpool.Pool, writers int, window time.Duration, data string) float64 {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS raw_inserts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		stream text NOT NULL, data jsonb NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return Hammer(b, writers, window, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `INSERT INTO raw_inserts (stream, data) VALUES ($1, $2)`, uuid.NewString(), data)
		return err
	})
}

// Median is the middle of xs (the upper one of an even count).
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Results is where benchmarks write their figures for the plot tool:
// LEADSVC_BENCH_RESULTS, or else bench-results.jsonl at the module's root
// (go test runs in the package's directory).
func Results(t testing.TB) *benchresults.Writer {
	t.Helper()
	if p := os.Getenv("LEADSVC_BENCH_RESULTS"); p != "" {
		return benchresults.NewWriter(p)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return benchresults.NewWriter(filepath.Join(dir, "bench-results.jsonl"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("bench results: no go.mod above the working directory; set LEADSVC_BENCH_RESULTS")
		}
		dir = parent
	}
}

// Record writes rec to w and fails the benchmark if it cannot.
func Record(t testing.TB, w *benchresults.Writer, rec benchresults.Record) {
	t.Helper()
	if rec.Bench == "" {
		rec.Bench = t.Name()
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
}

// Percentile is the p-th percentile (0 < p < 100) of sorted, by the
// nearest-rank rule; 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
