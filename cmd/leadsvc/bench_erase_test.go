package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/benchresults"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The erasure benchmark (docs/benchmarks.md#erasure).
const (
	defaultEraseStore = 1_000_000
	defaultErasures   = 10_000
	eraseClients      = 4                // concurrent erasure requests
	eraseCreators     = 8                // concurrent single creates, before and during
	eraseBaseline     = 10 * time.Second // creates measured before the erasures
)

// eraseSizes are the store's size and the number of erasures:
// LEADSVC_BENCH_ERASE_LEADS and LEADSVC_BENCH_ERASURES for smoke runs
// (e.g. 20000 and 200), at most half the store.
func eraseSizes() (store, erasures int) {
	store, erasures = defaultEraseStore, defaultErasures
	if n, err := strconv.Atoi(os.Getenv("LEADSVC_BENCH_ERASE_LEADS")); err == nil && n >= 100 {
		store, erasures = n, max(1, n/100)
	}
	if n, err := strconv.Atoi(os.Getenv("LEADSVC_BENCH_ERASURES")); err == nil && n >= 1 {
		erasures = n
	}
	return store, min(erasures, store/2)
}

// createLoad runs eraseCreators clients of single creates until stop is
// closed and returns how many were acknowledged.
func createLoad(b *testing.B, writer apiClient, stop <-chan struct{}) (count func() int64, wait func()) {
	body, err := json.Marshal(createBody(0))
	if err != nil {
		b.Fatal(err)
	}
	var (
		n      atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	for range eraseCreators {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, out, err := writer.do("POST", "/v1/leads", body)
				if err != nil || code != 201 {
					failed.Store(fmt.Errorf("create: %d %.300s %v", code, out, err))
					return
				}
				n.Add(1)
			}
		})
	}
	return n.Load, func() {
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkErasure erases leads spread over a store of a million (events,
// views, the broker's messages) while partners create leads, and reports
// erasures/s, each erasure's latency, the time until the broker holds
// none of the erased leads' messages, and creates/s during the erasures
// beside creates/s before them. The store is seeded as BenchmarkVersusCRUD
// seeds it (COPY into the log, rebuild, relay), so every lead has one
// event and one message.
func BenchmarkErasure(b *testing.B) {
	testenv.Integration(b)
	v := &versus{b: b, results: testenv.Results(b), start: time.Now()}
	store, erasures := eraseSizes()
	v.progress("building leadsvc; %d leads, %d erasures; results to %s", store, erasures, v.results.Path())
	bin := testenv.BuildBinary(b, b.TempDir(), "github.com/leadsvc/leadsvc/cmd/leadsvc")
	natsURL, nc := benchNATS(b)
	hc := &httpClientSet{leadsvc: newHTTPClient(), crud: newHTTPClient()}
	ls := newLeadsvc(b, bin, nc, natsURL, hc)

	v.progress("seeding %d leads", store)
	t0 := time.Now()
	ls.seed(b, 0, store)
	seeded := time.Since(t0)
	settled := ls.waitQuiet(b)
	v.progress("seeded in %v, relayed and settled in %v", seeded.Round(time.Second), settled.Round(time.Second))

	// Creates before.
	stop := make(chan struct{})
	count, wait := createLoad(b, ls.writer, stop)
	time.Sleep(eraseBaseline) // a measuring window, not a wait for a condition
	close(stop)
	wait()
	before := float64(count()) / eraseBaseline.Seconds()
	v.progress("creates before the erasures: %.0f/s at %d clients", before, eraseCreators)

	// Erasures, spread evenly over the store, with creates beside them.
	step := store / erasures
	var (
		next    atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		failed  atomic.Value
		workers sync.WaitGroup
	)
	reason := []byte(`{"reason": "benchmark"}`)
	stop = make(chan struct{})
	count, wait = createLoad(b, ls.writer, stop)
	start := time.Now()
	for range eraseClients {
		workers.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= int64(erasures) {
					return
				}
				id := generateLead(int(k) * step).id
				t := time.Now()
				code, out, err := ls.admin.do("POST", "/v1/leads/"+id.String()+"/erase", reason)
				d := time.Since(t)
				if err != nil || code != 200 {
					failed.Store(fmt.Errorf("erase %s: %d %.300s %v", id, code, out, err))
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				if k%1000 == 999 {
					v.progress("%d erasures in %v", k+1, time.Since(start).Round(time.Second))
				}
			}
		})
	}
	workers.Wait()
	erased := time.Since(start)
	created := count()
	close(stop)
	wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	during := float64(created) / erased.Seconds()

	// The broker: every erased lead's messages purged.
	ctx := context.Background()
	for {
		var purged int
		if err := ls.pool.QueryRow(ctx, `SELECT count(*) FROM broker_purges`).Scan(&purged); err != nil {
			b.Fatal(err)
		}
		if purged >= erasures {
			break
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatalf("%d of %d erased leads purged from the stream after 30 minutes", purged, erasures)
		}
		time.Sleep(100 * time.Millisecond)
	}
	purgedAt := time.Since(start)

	slices.Sort(lat)
	p50, p99 := testenv.Percentile(lat, 50), testenv.Percentile(lat, 99)
	rate := float64(erasures) / erased.Seconds()
	ratio := during / before
	for _, r := range []benchresults.Record{
		{Metric: "erasures_per_s", Service: "leadsvc", Clients: eraseClients, Leads: store, Value: rate, Unit: "1/s"},
		{Metric: "erase_p50_ms", Service: "leadsvc", Clients: eraseClients, Leads: store, Value: testenv.Ms(p50), Unit: "ms"},
		{Metric: "erase_p99_ms", Service: "leadsvc", Clients: eraseClients, Leads: store, Value: testenv.Ms(p99), Unit: "ms"},
		{Metric: "erase_total_s", Service: "leadsvc", Clients: eraseClients, Leads: store, Value: erased.Seconds(), Unit: "s"},
		{Metric: "erase_purged_s", Service: "leadsvc", Clients: eraseClients, Leads: store, Value: purgedAt.Seconds(), Unit: "s"},
		{Metric: "creates_per_s_before_erasure", Service: "leadsvc", Clients: eraseCreators, Leads: store, Value: before, Unit: "1/s"},
		{Metric: "creates_per_s_during_erasure", Service: "leadsvc", Clients: eraseCreators, Leads: store, Value: during, Unit: "1/s", Ratio: &ratio},
	} {
		v.record(r)
	}
	b.ReportMetric(rate, "erasures/s")
	b.ReportMetric(testenv.Ms(p50), "erase_p50_ms")
	b.ReportMetric(testenv.Ms(p99), "erase_p99_ms")
	b.ReportMetric(ratio, "x_creates_during")
	v.progress("%d erasures of %d leads at %d clients in %v (%.0f/s; p50 %v, p99 %v); the stream purged of them after %v; "+
		"creates at %d clients: %.0f/s before, %.0f/s during (x%.2f)",
		erasures, store, eraseClients, erased.Round(time.Millisecond), rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
		purgedAt.Round(time.Millisecond), eraseCreators, before, during, ratio)
}
