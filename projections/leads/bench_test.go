package leads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/benchresults"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// The projection benchmarks print their figures beside a raw Postgres or
// NATS baseline measured in the same run (see docs/benchmarks.md).

const (
	benchCampaigns        = 50
	benchFiltersPerCamp   = 10
	benchBigCampaignLeads = 200_000 // campaign 0: one lead.created each
	benchSmallLeads       = 160_000 // over the other 49 campaigns
	benchUpdatesPerLead   = 4       // lead.updated events per small lead
)

var benchSources = func() []domain.Option {
	var out []domain.Option
	for i := range 20 {
		out = append(out, domain.Option{Value: fmt.Sprintf("partner-%02d", i), Label: fmt.Sprintf("Partner %02d", i)})
	}
	return out
}()

func benchSchema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "email", Label: "Email", Type: domain.TypeEmail},
		},
		Selects:  []domain.Select{{Key: "source", Label: "Source", Options: benchSources}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
}

// benchFilter is filter i of a campaign: partner filters, budget bands
// and status sets.
func benchFilter(i int) []domain.Condition {
	switch i % 3 {
	case 0:
		return []domain.Condition{{Field: "source", Op: domain.OpEq, Value: benchSources[i%len(benchSources)].Value}}
	case 1:
		return []domain.Condition{{Field: "budget", Op: domain.OpGte, Value: float64(i * 1000)}}
	default:
		return []domain.Condition{{Field: "status", Op: domain.OpIn, Value: []any{"won", "contacted"}},
			{Field: "source", Op: domain.OpNeq, Value: benchSources[i%len(benchSources)].Value}}
	}
}

// generatedLog is a log written straight into the events table with COPY
// (in stream order, one transaction), with the campaigns and filters
// views a real write would have made. Its hash chain is left empty: the
// projections do not read it, and writing a million events through the
// append path would take the benchmark's time.
type generatedLog struct {
	url       string
	pool      *pgxpool.Pool
	store     *eventstore.Store
	account   uuid.UUID
	campaigns []uuid.UUID
	filters   []uuid.UUID // benchFiltersPerCamp per campaign, in campaign order
	events    int64
}

func generateLog(b *testing.B) *generatedLog {
	b.Helper()
	ctx := context.Background()
	url := testenv.Schema(b)
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		b.Fatal(err)
	}
	pool := testenv.PoolOfSize(b, url, 16)
	reg := domain.NewRegistry()
	g := &generatedLog{url: url, pool: pool, store: eventstore.New(pool, reg), account: uuid.New()}
	b.Cleanup(g.store.Close)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows [][]any
	add := func(stream string, version int64, campaign uuid.UUID, ev domain.Event) {
		name, data, err := reg.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, []any{stream, version, uuid.New(), name, g.account, campaign, json.RawMessage(data),
			json.RawMessage(`{}`), at, []byte{0}})
	}
	schema := benchSchema()
	schemaJSON, _ := json.Marshal(schema)
	var campRows, filterRows [][]any
	for c := range benchCampaigns {
		id := uuid.New()
		g.campaigns = append(g.campaigns, id)
		add(domain.CampaignStream(id), 1, id, domain.CampaignCreated{CampaignID: id, AccountID: g.account, Name: fmt.Sprint("C", c),
			Fields: schema.Fields, Selects: schema.Selects, Statuses: schema.Statuses, At: at})
		campRows = append(campRows, []any{id, g.account, fmt.Sprint("C", c), json.RawMessage(schemaJSON), int64(1), at, at})
		for i := range benchFiltersPerCamp {
			fid := uuid.New()
			g.filters = append(g.filters, fid)
			conds, err := domain.ValidateConditions(benchFilter(c*benchFiltersPerCamp+i), schema)
			if err != nil {
				b.Fatal(err)
			}
			add(domain.FilterStream(fid), 1, id, domain.FilterCreated{FilterID: fid, CampaignID: id, AccountID: g.account,
				Name: fmt.Sprint("F", i), Conditions: conds, At: at})
			condJSON, _ := json.Marshal(conds)
			filterRows = append(filterRows, []any{fid, id, g.account, fmt.Sprint("F", i), json.RawMessage(condJSON), false, int64(1)})
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"new", "contacted", "won", "lost"}
	lead := func(campaign uuid.UUID, updates int) {
		id := uuid.New()
		stream := domain.LeadStream(id)
		add(stream, 1, campaign, domain.LeadCreated{LeadID: id, CampaignID: campaign, AccountID: g.account, Status: "new",
			Fields: domain.Fields{"name": "Lead " + id.String()[:8], "source": benchSources[rnd.IntN(len(benchSources))].Value,
				"budget": float64(rnd.IntN(20000)), "email": "lead@example.com"}, At: at})
		for u := range updates {
			add(stream, int64(u+2), campaign, domain.LeadUpdated{LeadID: id, Fields: domain.Fields{"budget": float64(rnd.IntN(20000))},
				StatusFrom: "new", StatusTo: statuses[rnd.IntN(len(statuses))], At: at.Add(time.Duration(u+1) * time.Minute)})
		}
	}
	for range benchBigCampaignLeads {
		lead(g.campaigns[0], 0)
	}
	for i := range benchSmallLeads {
		lead(g.campaigns[1+i%(benchCampaigns-1)], benchUpdatesPerLead)
	}
	g.events = int64(len(rows))
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"stream_id", "stream_version", "event_id", "event_type",
			"account_id", "campaign_id", "data", "metadata", "recorded_at", "hash"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"campaigns"}, []string{"id", "account_id", "name", "schema", "version",
			"created_at", "updated_at"}, pgx.CopyFromRows(campRows)); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"filters"}, []string{"id", "campaign_id", "account_id", "name", "conditions",
			"deleted", "version"}, pgx.CopyFromRows(filterRows))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkRebuild rebuilds the lead views from a generated log of
// 1,000,050+ events (50 campaigns, 500 filters) and prints the rate beside
// the time Postgres takes merely to hand over the same rows in the same
// order (the raw read baseline).
func BenchmarkRebuild(b *testing.B) {
	testenv.Integration(b)
	g := generateLog(b)
	ctx := context.Background()

	start := time.Now()
	var n int64
	rows, err := g.pool.Query(ctx, `SELECT position, tx_id::text, stream_id, stream_version, event_id, event_type, account_id,
		campaign_id, data, metadata, recorded_at FROM events ORDER BY tx_id, position`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		n++
	}
	rows.Close()
	if rows.Err() != nil {
		b.Fatal(rows.Err())
	}
	raw := float64(n) / time.Since(start).Seconds()

	p := leads.New(eventlog.New(g.store), domain.NewRegistry(), views.Of(g.store))
	phase, phaseStart := "", time.Now()
	var phases []string
	rep, err := p.Rebuild(ctx, g.pool, func(pr projections.Progress) {
		if pr.Phase != phase {
			if phase != "" {
				phases = append(phases, fmt.Sprintf("%s %v", phase, time.Since(phaseStart).Round(time.Millisecond)))
			}
			phase, phaseStart = pr.Phase, time.Now()
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuild phases: %v", phases)
	rate := float64(rep.Events) / rep.Duration.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(raw, "raw_read_rows/s")
	b.ReportMetric(rate/raw, "x_raw_read")
	b.Logf("rebuild: %d events (%d leads, %d memberships, %d filters) in %v = %.0f events/s; raw ordered read of the same rows %.0f rows/s (rebuild = %.2f x)",
		rep.Events, rep.Leads, rep.Memberships, len(g.filters), rep.Duration.Round(time.Millisecond), rate, raw, rate/raw)
}

// BenchmarkFilterReevaluation changes a filter of a campaign of 200,000
// leads and times the projection's re-evaluation of its membership,
// beside the bare SQL count of the new matches on the same table.
func BenchmarkFilterReevaluation(b *testing.B) {
	testenv.Integration(b)
	g := generateLog(b)
	ctx := context.Background()
	log := eventlog.New(g.store)
	p := leads.New(log, domain.NewRegistry(), views.Of(g.store))
	if _, err := p.Rebuild(ctx, g.pool, nil); err != nil {
		b.Fatal(err)
	}
	c, err := commands.New(commands.Config{Store: g.store, SecretKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	filter := g.filters[0] // campaign 0's first filter: source = partner-00
	var timings []time.Duration
	var bare time.Duration
	for i, cond := range []domain.Condition{
		{Field: "budget", Op: domain.OpBetween, Value: []any{2000, 9000}},
		{Field: "source", Op: domain.OpIn, Value: []any{"partner-01", "partner-02", "partner-03"}},
		{Field: "budget", Op: domain.OpLt, Value: 15000},
	} {
		res, err := c.UpdateFilter.Handle(ctx, commands.UpdateFilter{AccountID: g.account, FilterID: filter, Name: "F0", Conditions: []domain.Condition{cond}})
		if err != nil {
			b.Fatal(err)
		}
		ev := projections.Event{Position: res.Position, StreamID: domain.FilterStream(filter), StreamVersion: int64(i + 2),
			Type: "filter.updated", AccountID: g.account, CampaignID: g.campaigns[0]}
		start := time.Now()
		err = pgx.BeginFunc(ctx, g.pool, func(tx pgx.Tx) error { return p.Apply(ctx, tx, []projections.Event{ev}) })
		if err != nil {
			b.Fatal(err)
		}
		timings = append(timings, time.Since(start))
		expr, args, ok := leads.CompileFilter(benchSchema(), res.Filter, "lv", 1)
		if !ok {
			b.Fatal("benchmark filter not compilable")
		}
		start = time.Now()
		var want, got int
		if err := g.pool.QueryRow(ctx, `SELECT count(*) FROM lead_views lv WHERE lv.campaign_id = $1 AND `+expr,
			append([]any{g.campaigns[0]}, args...)...).Scan(&want); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(start)
		if err := g.pool.QueryRow(ctx, `SELECT count(*) FROM filter_members WHERE filter_id = $1`, filter).Scan(&got); err != nil || got != want {
			b.Fatalf("members after re-evaluation = %d, %v; want %d", got, err, want)
		}
	}
	slices.Sort(timings)
	median := timings[len(timings)/2]
	bareMedian := bare / time.Duration(len(timings))
	b.ReportMetric(median.Seconds(), "reevaluate_s")
	b.ReportMetric(bareMedian.Seconds(), "bare_count_s")
	b.ReportMetric(median.Seconds()/bareMedian.Seconds(), "x_bare_count")
	b.Logf("filter re-evaluation over %d leads: median %v (runs %v); bare SQL count of the matches %v (re-evaluation = %.1f x)",
		benchBigCampaignLeads, median.Round(time.Millisecond), timings, bareMedian.Round(time.Millisecond), median.Seconds()/bareMedian.Seconds())
}

// BenchmarkAppendToVisibleLag measures, through the whole pipeline (write
// command, relay, JetStream, consumer), the time from a lead create being
// acknowledged to the lead showing in its filter's view, at half the
// maximum create rate; beside the raw JetStream publish-to-receive latency
// of the same server.
func BenchmarkAppendToVisibleLag(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	url := testenv.Schema(b)
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		b.Fatal(err)
	}
	pool := testenv.PoolOfSize(b, url, 16)
	// Group commit, as `leadsvc serve` appends: without it every create
	// is a WAL flush of its own, which the projection's commits queue
	// behind.
	store := eventstore.New(pool, domain.NewRegistry(), eventstore.WithGroupCommit(64, 0))
	b.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	nc := testenv.ConnectNATS(b)
	stream, prefix := testenv.RandomName("BENCH_"), testenv.RandomName("bench")
	b.Cleanup(func() {
		if js, err := nc.JetStream(); err == nil {
			_ = js.DeleteStream(stream)
		}
	})
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: acct.Account.ID, Name: "Bench", Schema: benchSchema()})
	if err != nil {
		b.Fatal(err)
	}
	f, err := c.CreateFilter.Handle(ctx, commands.CreateFilter{AccountID: acct.Account.ID, CampaignID: camp.Campaign.ID, Name: "partner",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-00"}}})
	if err != nil {
		b.Fatal(err)
	}
	create := func(ctx context.Context) (uuid.UUID, error) {
		res, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: acct.Account.ID, CampaignID: camp.Campaign.ID,
			Fields: map[string]any{"name": "x", "source": "partner-00", "budget": 10}})
		return res.Lead.ID, err
	}

	// What earlier benchmarks left for the disk to write would otherwise
	// land on this one's commits (make bench runs it after the
	// million-lead benchmark).
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
	// The maximum create rate, 16 writers for 2 s, before anything consumes.
	var maxCount atomic.Int64
	mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil {
				if _, err := create(mctx); err == nil {
					maxCount.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	maxRate := float64(maxCount.Load()) / 2

	relay, err := eventstore.NewRelay(eventstore.RelayConfig{Stream: stream, SubjectPrefix: prefix, PollInterval: 2 * time.Millisecond}, store, nc, quiet())
	if err != nil {
		b.Fatal(err)
	}
	log := eventlog.New(store)
	tag := testenv.RandomName("bench")
	runner, err := projections.NewRunner(projections.RunnerConfig{Stream: stream, SubjectPrefix: prefix, ConsumerTag: tag,
		InFlight: benchInFlight()},
		pool, log, nc, domain.NewRegistry(), quiet(), nil, leads.New(log, domain.NewRegistry(), views.Of(store)))
	if err != nil {
		b.Fatal(err)
	}
	rctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	drainStart := time.Now()
	go func() { _ = relay.Run(rctx) }()
	go func() { _ = runner.Run(rctx) }()
	// Wait until the backlog of the maximum-rate phase is visible and the
	// live consumer has nothing pending.
	deadline := time.Now().Add(5 * time.Minute)
	js, err := nc.JetStream()
	if err != nil {
		b.Fatal(err)
	}
	for {
		var members int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM filter_members WHERE filter_id = $1`, f.Filter.ID).Scan(&members); err != nil {
			b.Fatal(err)
		}
		ci, err := js.ConsumerInfo(stream, tag+"_"+leads.Name)
		if members >= maxCount.Load() && err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("backlog not visible after 5 minutes: %d of %d", members, maxCount.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	drain := float64(maxCount.Load()) / time.Since(drainStart).Seconds()

	// Steady writes at half the maximum rate for 5 s; a watcher polls the
	// filter's view for members updated since the oldest create it has
	// not seen yet, so each poll stays small.
	rate := maxRate / 2
	var mu sync.Mutex
	acked := map[uuid.UUID]time.Time{}
	sent := map[uuid.UUID]time.Time{} // when its create was sent: no later than its updated_at
	seen := map[uuid.UUID]time.Time{}
	var order []uuid.UUID // in acknowledgement order
	firstUnseen := 0
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	steadyStart := time.Now()
	go func() {
		defer close(watchDone)
		for wctx.Err() == nil {
			mu.Lock()
			for firstUnseen < len(order) {
				if _, ok := seen[order[firstUnseen]]; !ok {
					break
				}
				firstUnseen++
			}
			// From the earliest send of a lead not seen yet: a lead's
			// updated_at is taken while its create runs, so nothing
			// unseen is older, and each poll reads only what is in
			// flight (a poll from a second before read a second of
			// creates a millisecond, and took the CPU it measured).
			since := time.Now()
			for _, id := range order[firstUnseen:] {
				if _, ok := seen[id]; !ok && sent[id].Before(since) {
					since = sent[id]
				}
			}
			if firstUnseen == len(order) {
				since = steadyStart
				if len(order) > 0 {
					since = sent[order[len(order)-1]]
				}
			}
			mu.Unlock()
			rows, err := pool.Query(wctx, `SELECT lead_id FROM filter_members WHERE filter_id = $1 AND updated_at >= $2`, f.Filter.ID, since)
			if err != nil {
				return
			}
			now := time.Now()
			mu.Lock()
			for rows.Next() {
				var id uuid.UUID
				if rows.Scan(&id) == nil {
					if _, ok := seen[id]; !ok {
						seen[id] = now
					}
				}
			}
			mu.Unlock()
			rows.Close()
			time.Sleep(time.Millisecond)
		}
	}()
	// A plain JetStream subscriber times when each event reaches NATS,
	// to split the lag between the relay and the projection.
	relayed := map[uuid.UUID]time.Time{}
	tap, err := js.Subscribe(prefix+".*.*.lead.created.*", func(m *nats.Msg) {
		var ce struct {
			Subject string `json:"subject"`
		}
		if json.Unmarshal(m.Data, &ce) == nil {
			if id, err := uuid.Parse(ce.Subject); err == nil {
				mu.Lock()
				relayed[id] = time.Now()
				mu.Unlock()
			}
		}
	}, nats.DeliverNew(), nats.AckNone())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tap.Unsubscribe() }()
	interval := time.Duration(float64(time.Second) / rate)
	steadyEnd := time.Now().Add(5 * time.Second)
	var swg sync.WaitGroup
	for next := time.Now(); next.Before(steadyEnd); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		swg.Add(1)
		go func() {
			defer swg.Done()
			start := time.Now()
			id, err := create(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			t := time.Now()
			mu.Lock()
			acked[id], sent[id] = t, start
			order = append(order, id)
			mu.Unlock()
		}()
	}
	swg.Wait()
	for wait := time.Now().Add(time.Minute); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := true
		for id := range acked {
			if _, ok := seen[id]; !ok {
				done = false
				break
			}
		}
		mu.Unlock()
		if done {
			break
		}
	}
	stopWatch()
	<-watchDone
	var lags, relayLags []time.Duration
	mu.Lock()
	for id, t := range acked {
		if s, ok := seen[id]; ok {
			lags = append(lags, max(0, s.Sub(t)))
		}
		if r, ok := relayed[id]; ok {
			relayLags = append(relayLags, max(0, r.Sub(t)))
		}
	}
	mu.Unlock()
	slices.Sort(relayLags)
	if len(relayLags) > 0 {
		b.Logf("of which ack to JetStream delivery (the relay): p50 %v, p99 %v", relayLags[len(relayLags)/2].Round(100*time.Microsecond),
			relayLags[len(relayLags)*99/100].Round(100*time.Microsecond))
	}
	if len(lags) < len(acked) {
		b.Fatalf("%d of %d leads never became visible", len(acked)-len(lags), len(acked))
	}
	mu.Lock()
	fmt.Fprintf(os.Stderr, "%s: worst lag of the creates acknowledged in each half second: %s; of which the relay's: %s\n",
		b.Name(), lagOverTime(acked, seen, steadyStart), lagOverTime(acked, relayed, steadyStart))
	mu.Unlock()
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	rawP50, rawP99 := rawJetStreamLatency(b, nc, 2000)
	b.ReportMetric(maxRate, "max_creates/s")
	b.ReportMetric(drain, "backlog_drain_leads/s")
	b.ReportMetric(rate, "steady_creates/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "lag_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "lag_p99_ms")
	b.ReportMetric(float64(rawP50.Microseconds())/1000, "raw_js_p50_ms")
	b.ReportMetric(float64(rawP99.Microseconds())/1000, "raw_js_p99_ms")
	results := testenv.Results(b)
	samples := make([]float64, len(lags))
	for i, d := range lags {
		samples[i] = testenv.Ms(d)
	}
	for _, rec := range []benchresults.Record{
		{Metric: "lag_ms", Value: testenv.Ms(p99), Unit: "ms", Samples: samples},
		{Metric: "lag_p50_ms", Value: testenv.Ms(p50), Unit: "ms"},
		{Metric: "lag_p99_ms", Value: testenv.Ms(p99), Unit: "ms"},
		{Metric: "steady_creates_per_s", Value: rate, Unit: "leads/s"},
		{Metric: "max_creates_per_s", Value: maxRate, Unit: "leads/s"},
		{Metric: "raw_jetstream_p50_ms", Value: testenv.Ms(rawP50), Unit: "ms"},
		{Metric: "raw_jetstream_p99_ms", Value: testenv.Ms(rawP99), Unit: "ms"},
	} {
		testenv.Record(b, results, rec)
	}
	mark := "✘"
	if p99 <= 100*time.Millisecond {
		mark = "✔"
	}
	b.Logf("aim %s append-to-visible lag p99 %v at half the maximum create rate ≤ 100 ms", mark, p99.Round(100*time.Microsecond))
	b.Logf("backlog of %d creates relayed and applied at %.0f leads/s", maxCount.Load(), drain)
	b.Logf("append-to-visible lag at %.0f creates/s (half the maximum %.0f/s), %d leads: p50 %v, p99 %v; raw JetStream publish-to-receive p50 %v, p99 %v",
		rate, maxRate, len(lags), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), rawP50.Round(10*time.Microsecond), rawP99.Round(10*time.Microsecond))
}

// lagOverTime is the worst lag of the creates acknowledged in each half
// second from start: it tells a stall (one slow half second) from a
// pipeline that keeps falling behind.
func lagOverTime(acked, seen map[uuid.UUID]time.Time, start time.Time) string {
	var worst []time.Duration
	for id, t := range acked {
		i := int(t.Sub(start) / (500 * time.Millisecond))
		for len(worst) <= i {
			worst = append(worst, 0)
		}
		if s, ok := seen[id]; ok {
			worst[i] = max(worst[i], s.Sub(t))
		}
	}
	parts := make([]string, len(worst))
	for i, d := range worst {
		parts[i] = fmt.Sprint(d.Round(time.Millisecond))
	}
	return strings.Join(parts, " ")
}

func benchInFlight() int {
	n, _ := strconv.Atoi(os.Getenv("LEADSVC_BENCH_INFLIGHT"))
	return n
}

// rawJetStreamLatency publishes n messages one at a time to a scratch
// file-backed stream and times each from publish to delivery to a
// subscriber.
func rawJetStreamLatency(b *testing.B, nc *nats.Conn, n int) (p50, p99 time.Duration) {
	b.Helper()
	js, err := nc.JetStream()
	if err != nil {
		b.Fatal(err)
	}
	name, subject := testenv.RandomName("LAT_"), testenv.RandomName("lat")
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{subject + ".>"}, Storage: nats.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(name) }()
	got := make(chan time.Time, n)
	sub, err := js.Subscribe(subject+".>", func(m *nats.Msg) { got <- time.Now(); _ = m.Ack() }, nats.DeliverNew())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var lat []time.Duration
	for i := range n {
		start := time.Now()
		if _, err := js.Publish(subject+".x", []byte(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
		select {
		case t := <-got:
			lat = append(lat, t.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatal("raw JetStream message not received")
		}
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}
