package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
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
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
	"github.com/leadsvc/leadsvc/projections/webhooks"
)

// The API benchmark: the service started as `leadsvc serve` would be,
// driven over HTTP by keep-alive clients, beside the raw Postgres figures
// of the same database measured in the same run.

const (
	defaultStoreLeads = 1_000_000
	benchPartnerLeads = 5_000 // of them in the partner's filter
	benchClients      = 32
	roundWindow       = 2 * time.Second
	benchRounds       = 3
	benchListRequests = 2000
)

// benchStoreLeads is the store's size; LEADSVC_BENCH_STORE_LEADS
// overrides it to see how the figures move with it.
var benchStoreLeads = func() int {
	if n, err := strconv.Atoi(os.Getenv("LEADSVC_BENCH_STORE_LEADS")); err == nil && n >= benchPartnerLeads {
		return n
	}
	return defaultStoreLeads
}()

func BenchmarkAPI(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	url := testenv.Schema(b)
	vars := map[string]string{"DATABASE_URL": url, "LEADSVC_DATA_DIR": b.TempDir(), "LEADSVC_ADDR": "127.0.0.1:0",
		"LEADSVC_LOG_LEVEL": "error", "LEADSVC_RATE_LIMIT": "1000000"}
	if u := os.Getenv("NATS_URL"); u != "" {
		vars["NATS_URL"] = u
		vars["LEADSVC_NATS_STREAM"] = testenv.RandomName("BENCH_")
		vars["LEADSVC_NATS_SUBJECT_PREFIX"] = testenv.RandomName("bench")
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		b.Fatal(err)
	}
	m := NewMain(cfg, newLogger(cfg, io.Discard))
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	if cfg.NATSURL != "" {
		b.Cleanup(func() {
			if js, err := m.NATS.JetStream(); err == nil {
				_ = js.DeleteStream(cfg.NATSStream)
			}
		})
	}

	// The partner setup through the commands, then a million leads written
	// straight into the log and folded into the views by a rebuild.
	acct, err := m.Commands.CreateAccount(ctx, commands.CreateAccount{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	camp, err := m.Commands.CreateCampaign(ctx, commands.CreateCampaign{AccountID: acct.Account.ID, Name: "Bench", Schema: demoSchema()})
	if err != nil {
		b.Fatal(err)
	}
	f, err := m.Commands.CreateFilter(ctx, commands.CreateFilter{AccountID: acct.Account.ID, CampaignID: camp.Campaign.ID,
		Name: "Partner ABC", Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}}})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := m.Commands.CreateToken(ctx, commands.CreateToken{AccountID: acct.Account.ID, CampaignID: &camp.Campaign.ID,
		FilterID: &f.Filter.ID, Name: "Partner ABC", Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}})
	if err != nil {
		b.Fatal(err)
	}
	copyLeads(b, m.Pool, acct.Account.ID, camp.Campaign.ID)
	if _, err := leads.New(eventlog.New(m.Store), domain.NewRegistry()).Rebuild(ctx, m.Pool, nil); err != nil {
		b.Fatal(err)
	}

	// Seeding leaves a million events to relay and deliver: measure the
	// service at rest, not while it digests them.
	b.Logf("the service settled %v after seeding the store", waitForQuiet(b, m).Round(time.Second))
	bareP50, bareP99 := bareListLatency(b, m.Pool, acct.Account.ID, f.Filter.ID)

	base := "http://" + m.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	send := func(method, path string, body []byte) (int, []byte, error) {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}

	// Creates: every client posts for a window, alternating with a raw
	// INSERT window (the raw rate drifts within a minute on a shared
	// machine), each started once the views have caught up with the log
	// so that neither window pays for the other's backlog.
	body := []byte(`{"fields": {"name": "Bench lead", "email": "lead@example.com", "budget": 1200}}`)
	measureCreates := func() float64 {
		return testenv.Hammer(b, benchClients, roundWindow, func(context.Context) error {
			if code, out, err := send("POST", "/v1/leads", body); err != nil || code != http.StatusCreated {
				return fmt.Errorf("create: %d %s %v", code, out, err)
			}
			return nil
		})
	}
	var raws, creates, ratios []float64
	for round := range benchRounds {
		drained := waitForQuiet(b, m)
		raw := testenv.RawInsertRate(b, m.Pool, benchClients, roundWindow, `{"name":"Bench lead","email":"lead@example.com","budget":1200}`)
		rate := measureCreates()
		raws, creates, ratios = append(raws, raw), append(creates, rate), append(ratios, rate/raw)
		b.Logf("round %d: raw INSERT %.0f rows/s, creates %.0f/s (%.2f x raw); the service took %v to settle before it",
			round+1, raw, rate, rate/raw, drained.Round(time.Millisecond))
	}
	raw, createRate, createRatio := testenv.Median(raws), testenv.Median(creates), testenv.Median(ratios)
	b.Logf("the service settled %v after the last create window", waitForQuiet(b, m).Round(time.Millisecond))

	// Scoped lists: pages of 50, each client walking the filter's view by
	// cursor from a random start.
	var (
		mu     sync.Mutex
		lat    []time.Duration
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cursor := ""
			for next.Add(1) <= benchListRequests {
				path := "/v1/leads?limit=50"
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				t0 := time.Now()
				code, out, err := send("GET", path, nil)
				d := time.Since(t0)
				var page struct {
					Data       []json.RawMessage `json:"data"`
					NextCursor *string           `json:"next_cursor"`
				}
				if err != nil || code != http.StatusOK || json.Unmarshal(out, &page) != nil || len(page.Data) == 0 {
					failed.Store(fmt.Errorf("list: %d %.200s %v", code, out, err))
					return
				}
				cursor = ""
				if page.NextCursor != nil {
					cursor = *page.NextCursor
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(createRate, "creates/s")
	b.ReportMetric(raw, "raw_insert_rows/s")
	b.ReportMetric(createRatio, "x_raw_insert")
	b.ReportMetric(float64(p50.Microseconds())/1000, "list_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "list_p99_ms")
	b.ReportMetric(float64(bareP99.Microseconds())/1000, "bare_sql_p99_ms")
	b.ReportMetric(p99.Seconds()/bareP99.Seconds(), "x_bare_sql_p99")
	b.Logf("creates over HTTP (%d keep-alive clients): %.0f/s, median %.2f x the raw single-row INSERT rate (%.0f rows/s, %d writers; %d alternating rounds)",
		benchClients, createRate, createRatio, raw, benchClients, benchRounds)
	b.Logf("scoped list, page of 50 of %d in a store of %d leads, %d requests: p50 %v, p99 %v; bare SQL of the same pages p50 %v, p99 %v (p99 = %.1f x)",
		benchPartnerLeads, benchStoreLeads, len(lat), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
		bareP50.Round(10*time.Microsecond), bareP99.Round(10*time.Microsecond), p99.Seconds()/bareP99.Seconds())
}

// waitForQuiet waits until the service has nothing left to do with the
// log: the relay has published it all and the JetStream consumers of the
// lead views and the webhook projection hold no message (seeding a million
// events leaves a million to relay and deliver). It returns how long that took, logging progress on long waits.
func waitForQuiet(b *testing.B, m *Main) time.Duration {
	b.Helper()
	ctx := context.Background()
	start, lastLog := time.Now(), time.Now()
	for {
		left, err := workLeft(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if left == "" {
			return time.Since(start)
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatalf("the service is still busy after 15 minutes: %s", left)
		}
		if time.Since(lastLog) > 30*time.Second {
			// Progress goes to stderr: the benchmark's own log keeps
			// only its first lines.
			lastLog = time.Now()
			fmt.Fprintf(os.Stderr, "BenchmarkAPI: waiting for the service to settle (%v): %s\n", time.Since(start).Round(time.Second), left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// workLeft describes what the service has yet to do with the log, "" for
// nothing. A projection's checkpoint is the latest position it applied
// live, not always the latest in commit order, so what JetStream still
// holds for it is the measure: it is acknowledged only after the
// transaction that applied it commits.
func workLeft(ctx context.Context, m *Main) (string, error) {
	st, err := m.relay.Status(ctx)
	if err != nil {
		return "", err
	}
	if st.LagEvents > 0 {
		return fmt.Sprintf("%d events to relay", st.LagEvents), nil
	}
	js, err := m.NATS.JetStream()
	if err != nil {
		return "", err
	}
	for _, name := range []string{leads.Name, webhooks.Name} {
		ci, err := js.ConsumerInfo(m.Config.NATSStream, "leadsvc_"+name)
		if errors.Is(err, nats.ErrConsumerNotFound) {
			return fmt.Sprintf("%s: no consumer yet", name), nil
		}
		if err != nil {
			return "", err
		}
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			return fmt.Sprintf("%s: %d messages to deliver, %d unacknowledged", name, ci.NumPending, ci.NumAckPending), nil
		}
	}
	return "", nil
}

// copyLeads writes benchStoreLeads lead.created events straight into the
// log (one COPY; the hash chain is left empty, nothing here reads it),
// benchPartnerLeads of them from partner-abc.
func copyLeads(b *testing.B, pool *pgxpool.Pool, account, campaign uuid.UUID) {
	b.Helper()
	reg := domain.NewRegistry()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(3, 4))
	rows := make([][]any, 0, benchStoreLeads)
	for i := range benchStoreLeads {
		id := uuid.New()
		source := []string{"website", "partner-xyz"}[i%2]
		if i%(benchStoreLeads/benchPartnerLeads) == 0 {
			source = "partner-abc"
		}
		name, data, err := reg.Encode(domain.LeadCreated{LeadID: id, CampaignID: campaign, AccountID: account, Status: "new",
			Fields: domain.Fields{"name": fmt.Sprint("Lead ", i), "source": source, "budget": float64(rnd.IntN(20000))},
			At:     at.Add(time.Duration(i) * time.Millisecond)})
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, []any{domain.LeadStream(id), int64(1), [16]byte(uuid.New()), name, [16]byte(account), [16]byte(campaign),
			json.RawMessage(data), json.RawMessage(`{}`), at, []byte{0}})
	}
	ctx := context.Background()
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"stream_id", "stream_version", "event_id", "event_type",
		"account_id", "campaign_id", "data", "metadata", "recorded_at", "hash"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
}

// bareListLatency times the SQL of a scoped page (the reader's query:
// the filter's membership joined to the lead rows, 50 after a key) issued
// directly by as many concurrent clients as the HTTP run, at places
// spread over the view.
func bareListLatency(b *testing.B, pool *pgxpool.Pool, account, filter uuid.UUID) (p50, p99 time.Duration) {
	b.Helper()
	ctx := context.Background()
	var keys []leads.Key
	rows, err := pool.Query(ctx, `SELECT updated_at, lead_id FROM filter_members WHERE filter_id = $1`, filter)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var k leads.Key
		if err := rows.Scan(&k.UpdatedAt, &k.ID); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if len(keys) < benchPartnerLeads {
		b.Fatalf("the filter's view holds %d leads, want %d", len(keys), benchPartnerLeads)
	}
	r := leads.NewReader(pool)
	var (
		mu   sync.Mutex
		lat  []time.Duration
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= benchListRequests; i = next.Add(1) {
				k := keys[(int(i)*7919)%len(keys)]
				t0 := time.Now()
				if _, err := r.List(ctx, leads.Query{AccountID: account, FilterID: &filter, After: &k, Limit: 50}); err != nil {
					fail.Store(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}
