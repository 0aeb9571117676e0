package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/internal/benchresults"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The API benchmark: leadsvc beside the plain CRUD service a team would
// build instead (internal/benchcrud), both built and run as processes of
// their own beside the load generator, measured in the same run with the
// same clients and windows (docs/benchmarks.md).

const (
	roundWindow       = 2 * time.Second
	benchRounds       = 3
	listClients       = 4
	listPage          = 50
	listPagesPerStart = 10               // pages a client follows from one start
	listRoundRequests = 1500             // pages read per service, shape and round (p99: the 15th slowest)…
	listRoundBudget   = 10 * time.Second // …unless this time runs out first
	batchSize         = 100
	bulkClients       = 32 // single creates of the bulk load
	bulkBatchClients  = 8  // batches of the bulk load
	rawPoolConns      = 32 // max_connections (100) must also hold both services' pools
	defaultBulkLeads  = 30_000
)

var (
	storeSizes    = []int{10_000, 100_000, 1_000_000}
	createClients = []int{1, 8, 32, 64}
)

// versusSizes are the store sizes and the bulk load's size, capped by
// LEADSVC_BENCH_MAX_LEADS (for smoke runs: 20000 measures 10,000 and
// 20,000 leads and a bulk load of 20,000).
func versusSizes() (sizes []int, bulk int) {
	limit, err := strconv.Atoi(os.Getenv("LEADSVC_BENCH_MAX_LEADS"))
	if err != nil || limit < 1000 {
		return storeSizes, defaultBulkLeads
	}
	for _, n := range storeSizes {
		if n <= limit {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 || sizes[len(sizes)-1] < limit && limit < storeSizes[len(storeSizes)-1] {
		sizes = append(sizes, limit)
	}
	return sizes, min(defaultBulkLeads, limit)
}

// httpClientSet keeps each service's keep-alive connections apart.
type httpClientSet struct{ leadsvc, crud *http.Client }

// versus carries one run's output: the results file and the aims.
type versus struct {
	b       *testing.B
	results *benchresults.Writer
	start   time.Time
	aims    []string
}

// progress prints a line on stderr with the time since the start. The
// figures go there too: a benchmark's own log (b.Logf) keeps only its
// first ten lines, which the aims take.
func (v *versus) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %v: %s\n", v.b.Name(), time.Since(v.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func (v *versus) record(r benchresults.Record) { testenv.Record(v.b, v.results, r) }

// aim notes whether an aim is met; the aims are printed together at the
// end.
func (v *versus) aim(ok bool, format string, args ...any) {
	mark := "✘"
	if ok {
		mark = "✔"
	}
	v.aims = append(v.aims, mark+" "+fmt.Sprintf(format, args...))
}

// BenchmarkVersusCRUD measures, on both services: scoped list latency of
// three filter shapes as one store grows to a million leads, creates/s at
// 1 to 64 clients beside raw INSERT, RSS after the run, and list latency
// after a bulk load that no ANALYZE has followed. Every figure also goes
// to the results file (testenv.Results) for the plots.
func BenchmarkVersusCRUD(b *testing.B) {
	testenv.Integration(b)
	v := &versus{b: b, results: testenv.Results(b), start: time.Now()}
	sizes, bulk := versusSizes()
	v.progress("building leadsvc and the CRUD baseline; store sizes %v, bulk load %d; results to %s", sizes, bulk, v.results.Path())
	dir := b.TempDir()
	bins := [2]string{testenv.BuildBinary(b, dir, "github.com/leadsvc/leadsvc/cmd/leadsvc"),
		testenv.BuildBinary(b, dir, "github.com/leadsvc/leadsvc/internal/benchcrud/cmd/crudbaseline")}
	natsURL, nc := benchNATS(b)
	hc := &httpClientSet{leadsvc: newHTTPClient(), crud: newHTTPClient()}
	ls := newLeadsvc(b, bins[0], nc, natsURL, hc)
	crud := newCRUD(b, bins[1], ls.campaign, hc)
	if !ls.hasBatchPath {
		b.Logf("leadsvc answers POST /v1/leads/batch with 404/405: its batch figures are left out and the bulk load uses single creates")
		v.progress("leadsvc serves no POST /v1/leads/batch: no batch figures; the bulk load uses single creates")
	}

	// Scoped lists as the same store grows.
	have := 0
	listP99 := map[string]listResult{}
	for _, n := range sizes {
		v.progress("seeding both stores from %d to %d leads", have, n)
		t0 := time.Now()
		ls.seed(b, have, n)
		lsSeed := time.Since(t0)
		t0 = time.Now()
		crud.seed(b, have, n)
		crudSeed := time.Since(t0)
		settled := ls.waitQuiet(b)
		v.progress("seeded: leadsvc COPY+rebuild %v, then settled in %v; CRUD COPY+ANALYZE %v",
			lsSeed.Round(time.Second), settled.Round(time.Second), crudSeed.Round(time.Second))
		have = n
		lo, hi := seedStart, seedStart.Add(time.Duration(n)*time.Millisecond)
		for _, sh := range filterShapes {
			v.checkSamePages(ls.readers[sh.name], crud.readers[sh.name], sh, lo)
			listP99[sh.name] = v.lists("list", ls.readers[sh.name], crud.readers[sh.name], [2]cpuMeter{ls.meter(), crud.meter()}, sh, n, lo, hi, lo, hi)
		}
	}
	for _, sh := range filterShapes {
		b.ReportMetric(testenv.Ms(listP99[sh.name].leadsvc), "list_p99_ms_"+sh.name)
		b.ReportMetric(listP99[sh.name].ratio, "x_crud_list_p99_"+sh.name)
	}
	v.aim(listP99["a"].ratio <= 1, "list, shape a, %d leads: %v ≤ 1.0", have, listP99["a"])
	v.aim(listP99["c"].ratio <= 0.5, "list, shape c, %d leads: %v ≤ 0.5", have, listP99["c"])

	// Creates, in the largest store.
	v.progress("creates at %v clients", createClients)
	v.creates(ls, crud, testenv.PoolOfSize(b, testenv.Schema(b), rawPoolConns))

	// Memory after the run.
	var rss [2]float64
	for k, p := range []*testenv.Process{ls.proc, crud.proc} {
		n, err := p.RSSBytes()
		if err != nil {
			b.Fatal(err)
		}
		rss[k] = float64(n)
	}
	rssRatio := rss[0] / rss[1]
	v.record(benchresults.Record{Metric: "rss_bytes", Service: "leadsvc", Leads: have, Value: rss[0], Unit: "bytes", Ratio: &rssRatio})
	v.record(benchresults.Record{Metric: "rss_bytes", Service: "crud", Leads: have, Value: rss[1], Unit: "bytes"})
	rssMB := [2]float64{rss[0] / (1 << 20), rss[1] / (1 << 20)}
	b.ReportMetric(rssMB[0], "rss_MB")
	b.ReportMetric(rssMB[1], "crud_rss_MB")
	v.aim(rssMB[0] <= 150, "RSS (VmRSS) after the %d-lead run: leadsvc %.0f MB, CRUD %.0f MB: leadsvc ≤ 150 MB", have, rssMB[0], rssMB[1])
	ls.proc.Stop()
	crud.proc.Stop()

	v.progress("bulk load of %d leads into fresh stores, autovacuum off", bulk)
	v.bulkLoad(bins, nc, natsURL, hc, bulk)

	for _, a := range v.aims {
		b.Logf("aim %s", a)
		v.progress("aim %s", a)
	}
}

// checkSamePages fails the benchmark unless both services answer the
// first page of a shape with the same leads: the comparison is only fair
// when both read the same slice.
func (v *versus) checkSamePages(ls, crud apiClient, sh filterShape, since time.Time) {
	v.b.Helper()
	ids := func(c apiClient) []string {
		code, out, err := c.do("GET", "/v1/leads?limit=50&updated_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), nil)
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(out, &page) != nil {
			v.b.Fatalf("list %s: %d %.300s %v", c.base, code, out, err)
		}
		var s []string
		for _, l := range page.Data {
			s = append(s, l.ID)
		}
		return s
	}
	a, c := ids(ls), ids(crud)
	if len(a) == 0 || !slices.Equal(a, c) {
		v.b.Fatalf("shape %s: first pages differ: leadsvc %d leads %v, CRUD %d leads %v", sh.name, len(a), a, len(c), c)
	}
}

// listLatencies reads requests pages of listPage from c with listClients
// clients, or as many as listRoundBudget allows (a slow plan must not
// hold the whole run for minutes). Each client starts at a random updated_since in [lo, hi) and
// follows next_cursor for up to listPagesPerStart pages, then starts
// again elsewhere; the starts come from seed, the same for either
// service.
func listLatencies(b *testing.B, c apiClient, requests int, lo, hi time.Time, seed uint64) []time.Duration {
	b.Helper()
	var (
		mu     sync.Mutex
		lat    []time.Duration
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	deadline := time.Now().Add(listRoundBudget)
	for j := range listClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(j)))
			for {
				since := lo.Add(time.Duration(rnd.Int64N(int64(hi.Sub(lo)))))
				query := "/v1/leads?limit=" + strconv.Itoa(listPage) + "&updated_since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
				cursor := ""
				for range listPagesPerStart {
					if next.Add(1) > int64(requests) || time.Now().After(deadline) {
						return
					}
					path := query
					if cursor != "" {
						path += "&cursor=" + url.QueryEscape(cursor)
					}
					t0 := time.Now()
					code, out, err := c.do("GET", path, nil)
					d := time.Since(t0)
					var page struct {
						NextCursor *string `json:"next_cursor"`
					}
					if err != nil || code != http.StatusOK || json.Unmarshal(out, &page) != nil {
						failed.Store(fmt.Errorf("list %s: %d %.300s %v", c.base, code, out, err))
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
					if page.NextCursor == nil {
						break
					}
					cursor = *page.NextCursor
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	return lat
}

// lists measures one shape on both services in alternating rounds and
// records p50 and p99 of each, with the median of the rounds' p99 ratios,
// and the CPU time each service spent a page (meters: leadsvc's, the
// baseline's). [lsLo, lsHi) and [crudLo, crudHi) are where each service's
// leads were updated.
func (v *versus) lists(metric string, ls, crud apiClient, meters [2]cpuMeter, sh filterShape, leads int, lsLo, lsHi, crudLo, crudHi time.Time) listResult {
	b := v.b
	var all [2][]time.Duration
	var ratios, rounds [2][]float64
	var procCPU, pgCPU [2]time.Duration
	for round := range benchRounds {
		seed := uint64(leads)*16 + uint64(round)
		var p99 [2]time.Duration
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			var lat []time.Duration
			before := meters[k].sample(b)
			if k == 0 {
				lat = listLatencies(b, ls, listRoundRequests, lsLo, lsHi, seed)
			} else {
				lat = listLatencies(b, crud, listRoundRequests, crudLo, crudHi, seed)
			}
			proc, pg := meters[k].sample(b).since(before)
			procCPU[k] += proc
			pgCPU[k] += pg
			p99[k] = testenv.Percentile(lat, 99)
			all[k] = append(all[k], lat...)
			rounds[k] = append(rounds[k], testenv.Ms(p99[k]))
		}
		ratios[0] = append(ratios[0], p99[0].Seconds()/p99[1].Seconds())
	}
	ratio := testenv.Median(ratios[0])
	var p50s, p99s [2]time.Duration
	var cpu [2][2]float64 // µs a page: the service's process, its PostgreSQL backends
	for k, service := range []string{"leadsvc", "crud"} {
		slices.Sort(all[k])
		p50s[k], p99s[k] = testenv.Percentile(all[k], 50), testenv.Percentile(all[k], 99)
		pages := float64(len(all[k]))
		cpu[k] = [2]float64{float64(procCPU[k].Microseconds()) / pages, float64(pgCPU[k].Microseconds()) / pages}
		v.record(benchresults.Record{Metric: metric + "_cpu_us_per_page", Service: service, Shape: sh.name, Leads: leads, Value: cpu[k][0], Unit: "µs"})
		v.record(benchresults.Record{Metric: metric + "_pg_cpu_us_per_page", Service: service, Shape: sh.name, Leads: leads, Value: cpu[k][1], Unit: "µs"})
		v.record(benchresults.Record{Metric: metric + "_p50_ms", Service: service, Shape: sh.name, Leads: leads, Value: testenv.Ms(p50s[k]), Unit: "ms"})
		rec := benchresults.Record{Metric: metric + "_p99_ms", Service: service, Shape: sh.name, Leads: leads, Value: testenv.Ms(p99s[k]), Unit: "ms", Rounds: rounds[k]}
		if k == 0 {
			rec.Ratio = &ratio
		}
		v.record(rec)
	}
	v.progress("%s, shape %s (%s), %d leads, %d clients, pages of %d (%d per service): leadsvc p50 %v p99 %v; CRUD p50 %v p99 %v; p99 ratio %.2f (rounds %.2f); CPU a page, process + PostgreSQL: leadsvc %.0f + %.0f µs, CRUD %.0f + %.0f µs",
		metric, sh.name, sh.desc, leads, listClients, listPage, len(all[0]), p50s[0].Round(10*time.Microsecond), p99s[0].Round(10*time.Microsecond),
		p50s[1].Round(10*time.Microsecond), p99s[1].Round(10*time.Microsecond), ratio, ratios[0], cpu[0][0], cpu[0][1], cpu[1][0], cpu[1][1])
	return listResult{ratio: ratio, leadsvc: p99s[0], crud: p99s[1]}
}

// listResult is one shape's p99 on both services and the median of the
// rounds' ratios.
type listResult struct {
	ratio         float64
	leadsvc, crud time.Duration
}

func (r listResult) String() string {
	return fmt.Sprintf("p99 leadsvc %v, CRUD %v; median of the rounds' ratios %.2f x", r.leadsvc.Round(100*time.Microsecond), r.crud.Round(100*time.Microsecond), r.ratio)
}

// creates measures creates/s at each number of clients: raw INSERT, the
// baseline, leadsvc and leadsvc's batches, in alternating windows (the
// rates drift within a minute on a shared machine), each window started
// with leadsvc at rest.
func (v *versus) creates(ls *leadsvcService, crud *crudService, raw *pgxpool.Pool) {
	b := v.b
	single, err := json.Marshal(map[string]any{"fields": map[string]any{"name": "Bench lead", "email": "lead@example.com", "source": "website", "budget": 1200}})
	if err != nil {
		b.Fatal(err)
	}
	batch := struct {
		Leads []json.RawMessage `json:"leads"`
	}{}
	for range batchSize {
		batch.Leads = append(batch.Leads, json.RawMessage(`{"fields": {"name": "Bench lead", "email": "lead@example.com", "source": "website", "budget": 1200}}`))
	}
	batchBody, err := json.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	post := func(c apiClient, path string, body []byte) func(context.Context) error {
		return func(context.Context) error {
			if code, out, err := c.do("POST", path, body); err != nil || code != http.StatusCreated {
				return fmt.Errorf("POST %s%s: %d %.300s %v", c.base, path, code, out, err)
			}
			return nil
		}
	}
	services := []string{"raw_insert", "crud", "leadsvc", "leadsvc_batch"}
	for _, clients := range createClients {
		rates := map[string][]float64{}
		ratios := map[string][]float64{} // to the baseline ("…_raw": to raw INSERT)
		for round := range benchRounds {
			rate := map[string]float64{}
			for _, s := range services {
				if s == "leadsvc_batch" && !ls.hasBatchPath {
					continue
				}
				ls.waitQuiet(b)
				switch s {
				case "raw_insert":
					rate[s] = testenv.RawInsertRate(b, raw, clients, roundWindow, `{"name":"Bench lead","email":"lead@example.com","budget":1200}`)
				case "crud":
					rate[s] = testenv.Hammer(b, clients, roundWindow, post(crud.writer, "/v1/leads", single))
				case "leadsvc":
					rate[s] = testenv.Hammer(b, clients, roundWindow, post(ls.writer, "/v1/leads", single))
				case "leadsvc_batch":
					rate[s] = batchSize * testenv.Hammer(b, clients, roundWindow, post(ls.writer, "/v1/leads/batch", batchBody))
				}
				rates[s] = append(rates[s], rate[s])
			}
			for s, r := range rate {
				ratios[s+"_raw"] = append(ratios[s+"_raw"], r/rate["raw_insert"])
				ratios[s] = append(ratios[s], r/rate["crud"])
			}
			v.progress("%d clients, round %d: raw INSERT %.0f rows/s, CRUD %.0f/s, leadsvc %.0f/s, leadsvc batches %.0f leads/s (0: not measured)",
				clients, round+1, rate["raw_insert"], rate["crud"], rate["leadsvc"], rate["leadsvc_batch"])
		}
		med := map[string]float64{}
		for _, s := range services {
			if len(rates[s]) == 0 {
				continue
			}
			med[s] = testenv.Median(rates[s])
			rec := benchresults.Record{Metric: "creates_per_s", Service: s, Clients: clients, Value: med[s], Unit: "leads/s", Rounds: rates[s]}
			if s == "leadsvc" || s == "leadsvc_batch" {
				r := testenv.Median(ratios[s])
				rec.Ratio = &r
			}
			v.record(rec)
			if s != "raw_insert" {
				v.record(benchresults.Record{Metric: "creates_x_raw_insert", Service: s, Clients: clients, Value: testenv.Median(ratios[s+"_raw"]), Unit: "ratio"})
			}
		}
		v.progress("creates, %d clients, %d alternating rounds of %v: raw INSERT %.0f rows/s; CRUD %.0f/s (%.2f x raw); leadsvc %.0f/s (%.2f x CRUD, %.2f x raw); leadsvc batches of %d %.0f leads/s (%.2f x CRUD)",
			clients, benchRounds, roundWindow, med["raw_insert"], med["crud"], testenv.Median(ratios["crud_raw"]),
			med["leadsvc"], testenv.Median(ratios["leadsvc"]), testenv.Median(ratios["leadsvc_raw"]),
			batchSize, med["leadsvc_batch"], medianOrZero(ratios["leadsvc_batch"]))
		if clients == 32 {
			r := testenv.Median(ratios["leadsvc"])
			b.ReportMetric(med["leadsvc"], "creates/s")
			b.ReportMetric(med["crud"], "crud_creates/s")
			b.ReportMetric(med["raw_insert"], "raw_insert_rows/s")
			b.ReportMetric(r, "x_crud_creates")
			b.ReportMetric(testenv.Median(ratios["leadsvc_raw"]), "x_raw_insert")
			v.aim(r >= 0.8, "creates at 32 clients: leadsvc %.0f/s, CRUD %.0f/s: %.2f x the CRUD baseline ≥ 0.8 (raw INSERT %.0f rows/s: leadsvc %.2f x)",
				med["leadsvc"], med["crud"], r, med["raw_insert"], testenv.Median(ratios["leadsvc_raw"]))
			if ls.hasBatchPath {
				rb := testenv.Median(ratios["leadsvc_batch"])
				b.ReportMetric(med["leadsvc_batch"], "batch_leads/s")
				b.ReportMetric(rb, "x_crud_batch")
				v.aim(rb >= 5, "batches of %d at 32 clients: leadsvc %.0f leads/s, CRUD single creates %.0f/s: %.2f x ≥ 5", batchSize, med["leadsvc_batch"], med["crud"], rb)
			} else {
				v.aim(false, "leadsvc batches: not measured (no POST /v1/leads/batch)")
			}
		}
	}
}

func medianOrZero(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return testenv.Median(xs)
}

// bulkLoad loads n leads into a fresh leadsvc (in batches, when it has
// the endpoint) and a fresh baseline through their APIs, with autovacuum
// off on every table of both schemas, so that nothing has analyzed the
// tables; then, with leadsvc at rest, it measures the lists.
func (v *versus) bulkLoad(bins [2]string, nc *nats.Conn, natsURL string, hc *httpClientSet, n int) {
	b := v.b
	ls := newLeadsvc(b, bins[0], nc, natsURL, hc)
	crud := newCRUD(b, bins[1], ls.campaign, hc)
	disableAutovacuum(b, ls.pool)
	disableAutovacuum(b, crud.pool)
	lsLo := time.Now()
	if ls.hasBatchPath {
		loadLeads(b, ls.writer, n, bulkBatchClients, batchSize)
	} else {
		loadLeads(b, ls.writer, n, bulkClients, 1)
	}
	lsHi := time.Now()
	crudLo := time.Now()
	loadLeads(b, crud.writer, n, bulkClients, 1)
	crudHi := time.Now()
	settled := ls.waitQuiet(b)
	v.progress("loaded %d leads: leadsvc in %v (then settled in %v), CRUD in %v", n, lsHi.Sub(lsLo).Round(time.Second),
		settled.Round(time.Second), crudHi.Sub(crudLo).Round(time.Second))
	for _, svc := range []struct {
		name string
		pool *pgxpool.Pool
	}{{"leadsvc", ls.pool}, {"CRUD", crud.pool}} {
		var analyzed int
		if err := svc.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)`).Scan(&analyzed); err != nil {
			b.Fatal(err)
		}
		if analyzed > 0 {
			v.progress("bulk load: %d tables of %s were analyzed before the lists", analyzed, svc.name)
		}
	}
	for _, sh := range filterShapes {
		r := v.lists("bulk_list", ls.readers[sh.name], crud.readers[sh.name], [2]cpuMeter{ls.meter(), crud.meter()}, sh, n, lsLo, lsHi, crudLo, crudHi)
		b.ReportMetric(r.ratio, "x_crud_bulk_list_p99_"+sh.name)
		v.aim(r.ratio <= 1.5, "list after a bulk load of %d leads, no ANALYZE, shape %s: %v ≤ 1.5", n, sh.name, r)
	}
}

// loadLeads creates leads 0 … n-1 (createBody) through c, per of them a
// request (1: POST /v1/leads; more: POST /v1/leads/batch), from clients
// concurrent clients.
func loadLeads(b *testing.B, c apiClient, n, clients, per int) {
	b.Helper()
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(per))) - per
				if from >= n {
					return
				}
				path, body := "/v1/leads", any(createBody(from))
				if per > 1 {
					var leads []any
					for i := from; i < min(from+per, n); i++ {
						leads = append(leads, createBody(i))
					}
					path, body = "/v1/leads/batch", map[string]any{"leads": leads}
				}
				js, err := json.Marshal(body)
				if err != nil {
					failed.Store(err)
					return
				}
				if code, out, err := c.do("POST", path, js); err != nil || code != http.StatusCreated {
					failed.Store(fmt.Errorf("POST %s%s: %d %.300s %v", c.base, path, code, out, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}
