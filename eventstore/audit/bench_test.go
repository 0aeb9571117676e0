package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The audit benchmarks print their figures beside a raw Postgres baseline
// measured in the same run (see docs/benchmarks.md).

const (
	benchLeads        = 100_000 // in the audited campaign
	benchUpdates      = 5       // lead.updated per lead, spread over the following weeks
	benchOtherLeads   = 20_000  // in a second campaign of the account
	benchOtherUpdates = 2
	benchDays         = 60
)

var benchSources = func() []domain.Option {
	var out []domain.Option
	for i := range 10 {
		out = append(out, domain.Option{Value: fmt.Sprintf("partner-%02d", i), Label: fmt.Sprintf("Partner %02d", i)})
	}
	return out
}()

// logSize is how much generateLog writes: leads of the audited campaign
// and of a second one, with their updates.
type logSize struct {
	leads, updates, otherLeads, otherUpdates int
}

// benchSize is the benchmark's log: a campaign of 100,000 leads with six
// events each over 60 days, beside 20,000 leads of another campaign.
var benchSize = logSize{leads: benchLeads, updates: benchUpdates, otherLeads: benchOtherLeads, otherUpdates: benchOtherUpdates}

// benchLog is a generated account: a campaign whose leads change over 60
// days, a partner filter changed twice, the partner's token, and a
// second campaign as noise.
type benchLog struct {
	pool     *pgxpool.Pool
	reader   *audit.Reader
	account  uuid.UUID
	campaign uuid.UUID
	token    uuid.UUID
	start    time.Time
	events   int
}

type benchRow struct {
	at   time.Time
	vals []any
}

// generateLog writes the log with COPY, in time order, as
// projections/leads' generateLog does; hashes are placeholders (the chain
// is not what these benchmarks read).
func generateLog(b testing.TB, size logSize) *benchLog {
	b.Helper()
	ctx := context.Background()
	url := testenv.Schema(b)
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		b.Fatal(err)
	}
	pool := testenv.Pool(b, url)
	reg := domain.NewRegistry()
	g := &benchLog{pool: pool, account: uuid.New(), campaign: uuid.New(), token: uuid.New(),
		start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g.reader = audit.New(audit.Config{Store: eventstore.New(pool, reg)})
	var rows []benchRow
	versions := map[string]int64{}
	add := func(stream string, campaign *uuid.UUID, at time.Time, meta string, ev domain.Event) {
		name, data, err := reg.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		versions[stream]++
		rows = append(rows, benchRow{at: at, vals: []any{stream, versions[stream], uuid.New(), name, g.account, campaign,
			json.RawMessage(data), json.RawMessage(meta), at, []byte{0}}})
	}
	day := func(d float64) time.Time { return g.start.Add(time.Duration(d * float64(24*time.Hour))) }
	schema := domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "email", Label: "Email", Type: domain.TypeEmail},
		},
		Selects:  []domain.Select{{Key: "source", Label: "Source", Options: benchSources}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"}, {Slug: "won", Label: "Won"}},
	}
	admin := fmt.Sprintf(`{"actor_token_id": "%s", "request_id": "admin"}`, uuid.New())
	add(domain.AccountStream(g.account), nil, g.start, `{}`, domain.AccountCreated{AccountID: g.account, Name: "Bench", At: g.start})
	other := uuid.New()
	for _, c := range []uuid.UUID{g.campaign, other} {
		add(domain.CampaignStream(c), &c, g.start, admin, domain.CampaignCreated{CampaignID: c, AccountID: g.account, Name: "C",
			Fields: schema.Fields, Selects: schema.Selects, Statuses: schema.Statuses, At: g.start})
	}
	filter := uuid.New()
	conds := func(cs ...domain.Condition) []domain.Condition {
		out, err := domain.ValidateConditions(cs, schema)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	add(domain.FilterStream(filter), &g.campaign, g.start, admin, domain.FilterCreated{FilterID: filter, CampaignID: g.campaign,
		AccountID: g.account, Name: "Partner 03", Conditions: conds(domain.Condition{Field: "source", Op: domain.OpEq, Value: "partner-03"}), At: g.start})
	add(domain.FilterStream(filter), &g.campaign, day(20), admin, domain.FilterUpdated{FilterID: filter, Name: "Partners 03-04",
		Conditions: conds(domain.Condition{Field: "source", Op: domain.OpIn, Value: []any{"partner-03", "partner-04"}}), At: day(20)})
	add(domain.FilterStream(filter), &g.campaign, day(40), admin, domain.FilterUpdated{FilterID: filter, Name: "Partners 03-04, budget",
		Conditions: conds(domain.Condition{Field: "source", Op: domain.OpIn, Value: []any{"partner-03", "partner-04"}},
			domain.Condition{Field: "budget", Op: domain.OpGte, Value: 5000}), At: day(40)})
	add(domain.TokenStream(g.token), &g.campaign, g.start, admin, domain.TokenCreated{TokenID: g.token, AccountID: g.account,
		CampaignID: &g.campaign, FilterID: &filter, Name: "Partner 03", Permissions: []domain.Permission{domain.PermRead, domain.PermWrite},
		SecretPrefix: "lsk_abcd", SecretLast4: "wxyz", DocsID: "bench", At: g.start})

	rnd := rand.New(rand.NewPCG(3, 5))
	statuses := []string{"new", "contacted", "won"}
	request := 0
	lead := func(campaign uuid.UUID, i, n, updates int) {
		id := uuid.New()
		stream := domain.LeadStream(id)
		at := day(40 * float64(i) / float64(n))
		meta := func() string {
			request++
			return fmt.Sprintf(`{"actor_token_id": "%s", "request_id": "r%d"}`, g.token, request)
		}
		add(stream, &campaign, at, meta(), domain.LeadCreated{LeadID: id, CampaignID: campaign, AccountID: g.account, Status: "new",
			Fields: domain.Fields{"name": "Lead " + id.String()[:8], "source": benchSources[rnd.IntN(len(benchSources))].Value,
				"budget": float64(rnd.IntN(10000)), "email": "lead@example.com"}, At: at})
		for range updates {
			at = at.Add(time.Duration(rnd.Float64() * float64(4*24*time.Hour)))
			fields := domain.Fields{"budget": float64(rnd.IntN(10000))}
			if rnd.IntN(4) == 0 {
				fields["source"] = benchSources[rnd.IntN(len(benchSources))].Value
			}
			add(stream, &campaign, at, meta(), domain.LeadUpdated{LeadID: id, Fields: fields, StatusFrom: "new",
				StatusTo: statuses[rnd.IntN(len(statuses))], At: at})
		}
	}
	for i := range size.leads {
		lead(g.campaign, i, size.leads, size.updates)
	}
	for i := range size.otherLeads {
		lead(other, i, size.otherLeads, size.otherUpdates)
	}
	// Positions follow time, as in a real log; a stream's events keep
	// their version order because their times increase.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	src := make([][]any, len(rows))
	for i, r := range rows {
		src[i] = r.vals
	}
	g.events = len(src)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"stream_id", "stream_version", "event_id", "event_type",
			"account_id", "campaign_id", "data", "metadata", "recorded_at", "hash"}, pgx.CopyFromRows(src))
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

// BenchmarkAudit generates the log once and measures, each beside a bare
// Postgres read of the same rows in the same run: the time to answer
// visible-at-T for the partner's token (100,000 leads, 600,000 events of
// the campaign), and the rate of the account's NDJSON feed.
func BenchmarkAudit(b *testing.B) {
	testenv.Integration(b)
	g := generateLog(b, benchSize)
	ctx := context.Background()
	b.Logf("generated %d events", g.events)

	b.Run("VisibleAtT", func(b *testing.B) {
		at := g.start.Add(45 * 24 * time.Hour) // after the second filter change, most of the history behind
		var runs, raws []time.Duration
		var v audit.Visibility
		var scanned int
		for range 3 {
			start := time.Now()
			var err error
			if v, err = g.reader.VisibleLeads(ctx, g.account, g.token, at); err != nil {
				b.Fatal(err)
			}
			runs = append(runs, time.Since(start))

			// Baseline: the bare ordered scan of the campaign's events up to
			// T, every row handed to Go.
			start = time.Now()
			rows, err := g.pool.Query(ctx, `SELECT stream_id, stream_version, event_type, data FROM events
				WHERE campaign_id = $1 AND recorded_at <= $2 ORDER BY position`, g.campaign, at)
			if err != nil {
				b.Fatal(err)
			}
			scanned = 0
			var (
				stream, typ string
				version     int64
				data        []byte
			)
			for rows.Next() {
				if err := rows.Scan(&stream, &version, &typ, &data); err != nil {
					b.Fatal(err)
				}
				scanned++
			}
			rows.Close()
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
			raws = append(raws, time.Since(start))
		}
		slices.Sort(runs)
		slices.Sort(raws)
		run, raw := runs[1], raws[1]
		if v.State != audit.StateActive || v.Count == 0 {
			b.Fatalf("visible at T: %s, %d leads", v.State, v.Count)
		}
		b.ReportMetric(run.Seconds(), "visible_at_t_s")
		b.ReportMetric(raw.Seconds(), "raw_scan_s")
		b.ReportMetric(run.Seconds()/raw.Seconds(), "x_raw_scan")
		b.Logf("visible-at-T: %d of %d leads from %d events, median of 3: %v (runs %v); bare ordered scan of the same rows: %v (visible-at-T = %.2f x)",
			v.Count, benchLeads, scanned, run.Round(time.Millisecond), runs, raw.Round(time.Millisecond), run.Seconds()/raw.Seconds())
	})

	b.Run("Feed", func(b *testing.B) {
		settled(b, g.pool)
		// Baseline: every column of the account's events in commit order.
		start := time.Now()
		rows, err := g.pool.Query(ctx, `SELECT position, tx_id::text, stream_id, stream_version, event_id, event_type, campaign_id,
			data, metadata, recorded_at, prev_hash, hash FROM events WHERE account_id = $1 ORDER BY tx_id, position`, g.account)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var (
				pos, version          int64
				tx, stream, typ       string
				id                    uuid.UUID
				campaign              *uuid.UUID
				data, meta, prev, sum []byte
				at                    time.Time
			)
			if err := rows.Scan(&pos, &tx, &stream, &version, &id, &typ, &campaign, &data, &meta, &at, &prev, &sum); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
		raw := float64(n) / time.Since(start).Seconds()

		start = time.Now()
		var after int64
		count := 0
		var bytes int64
		w := countingWriter{n: &bytes}
		for {
			f, err := g.reader.OpenFeed(ctx, g.account, audit.FeedQuery{After: after, Limit: audit.MaxFeedLimit})
			if err != nil {
				b.Fatal(err)
			}
			end, err := f.Stream(ctx, w, nil)
			if err != nil {
				b.Fatal(err)
			}
			count += end.Count
			after = end.NextAfter
			if !end.More {
				break
			}
		}
		elapsed := time.Since(start)
		rate := float64(count) / elapsed.Seconds()
		if count != g.events {
			b.Fatalf("the feed gave %d events of %d", count, g.events)
		}
		b.ReportMetric(rate, "feed_events/s")
		b.ReportMetric(raw, "raw_read_rows/s")
		b.ReportMetric(rate/raw, "x_raw_read")
		b.Logf("feed: %d events as %d MB of NDJSON in %v = %.0f events/s; raw commit-order read of the same rows %.0f rows/s (feed = %.2f x)",
			count, bytes>>20, elapsed.Round(time.Millisecond), rate, raw, rate/raw)
	})
}

type countingWriter struct{ n *int64 }

func (c countingWriter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return io.Discard.Write(p)
}
