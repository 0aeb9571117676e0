package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/benchcrud"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The two services of BenchmarkVersusCRUD, set up alike: one campaign, a
// reading token per filter shape and a writing token for the whole
// campaign, and the same leads.

// partnerSource is the source of the partner whose tokens read; about a
// tenth of the generated leads come from it.
const partnerSource = "partner-abc"

var otherSources = []string{"website", "partner-xyz", "fair", "referral"}

// filterShape is a partner token's filter: as leadsvc's conditions and as
// the baseline's columns.
type filterShape struct {
	name, desc string
	conditions []map[string]any
	crud       benchcrud.Filter
}

func ptr[T any](v T) *T { return &v }

var filterShapes = []filterShape{
	{name: "a", desc: "source = " + partnerSource,
		conditions: []map[string]any{{"field": "source", "op": "eq", "value": partnerSource}},
		crud:       benchcrud.Filter{Source: partnerSource}},
	{name: "b", desc: "source = " + partnerSource + " and status in (new, contacted)",
		conditions: []map[string]any{{"field": "source", "op": "eq", "value": partnerSource},
			{"field": "status", "op": "in", "value": []string{"new", "contacted"}}},
		crud: benchcrud.Filter{Source: partnerSource, Statuses: []string{"new", "contacted"}}},
	{name: "c", desc: "source = " + partnerSource + " and budget between 5000 and 15000 and status in (contacted, qualified)",
		conditions: []map[string]any{{"field": "source", "op": "eq", "value": partnerSource},
			{"field": "budget", "op": "between", "value": []float64{5000, 15000}},
			{"field": "status", "op": "in", "value": []string{"contacted", "qualified"}}},
		crud: benchcrud.Filter{Source: partnerSource, Statuses: []string{"contacted", "qualified"}, BudgetMin: ptr(5000.0), BudgetMax: ptr(15000.0)}},
}

// benchCampaign is the campaign both services hold.
func benchCampaign() map[string]any {
	options := []map[string]any{{"value": partnerSource, "label": "Partner ABC"}}
	for _, s := range otherSources {
		options = append(options, map[string]any{"value": s, "label": s})
	}
	var statuses []map[string]any
	for _, s := range benchcrud.Statuses {
		statuses = append(statuses, map[string]any{"slug": s, "label": s})
	}
	return map[string]any{
		"name": "Bench",
		"fields": []map[string]any{
			{"key": "name", "label": "Name", "type": "text", "required": true},
			{"key": "email", "label": "Email", "type": "email"},
			{"key": "budget", "label": "Budget", "type": "number"},
			{"key": "source", "label": "Source", "type": "select", "select": "source", "required": true},
		},
		"selects":  []map[string]any{{"key": "source", "label": "Source", "options": options}},
		"statuses": statuses,
	}
}

// genLead is lead i of the generated store, the same for both services:
// one in ten from the partner, statuses and budgets spread evenly.
type genLead struct {
	id     uuid.UUID
	status string
	fields map[string]any
	at     time.Time
}

var seedStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func generateLead(i int) genLead {
	r := rand.New(rand.NewPCG(uint64(i), 0x1ead))
	var id uuid.UUID
	for j := range id {
		id[j] = byte(r.Uint32())
	}
	id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80
	source := otherSources[r.IntN(len(otherSources))]
	if i%10 == 0 {
		source = partnerSource
	}
	return genLead{id: id, status: benchcrud.Statuses[r.IntN(len(benchcrud.Statuses))],
		fields: map[string]any{"name": fmt.Sprint("Lead ", i), "email": "lead@example.com", "source": source, "budget": float64(r.IntN(20000))},
		at:     seedStart.Add(time.Duration(i) * time.Millisecond)}
}

// createBody is lead i as the body of a create.
func createBody(i int) map[string]any {
	l := generateLead(i)
	return map[string]any{"status": l.status, "fields": l.fields}
}

// leadsvcService is a leadsvc process configured as `leadsvc serve`
// would be, on its own schema and its own JetStream stream.
type leadsvcService struct {
	bin, base    string
	env          []string
	proc         *testenv.Process
	pool         *pgxpool.Pool // the benchmark's own, on the same schema
	app          string        // the application_name of the service's connections
	js           nats.JetStreamContext
	stream       string
	account      uuid.UUID
	campaign     uuid.UUID
	admin        apiClient
	writer       apiClient
	readers      map[string]apiClient // by filter shape
	hasBatchPath bool
}

func newLeadsvc(b *testing.B, bin string, nc *nats.Conn, natsURL string, hc *httpClientSet) *leadsvcService {
	b.Helper()
	url := testenv.Schema(b)
	key := make([]byte, 32)
	_, _ = crand.Read(key)
	addr := testenv.FreeAddr(b)
	s := &leadsvcService{bin: bin, base: "http://" + addr, stream: testenv.RandomName("BENCH_"), readers: map[string]apiClient{},
		app: testenv.RandomName("leadsvc_")}
	vars := map[string]string{"DATABASE_URL": withApplicationName(b, url, s.app), "LEADSVC_ADDR": addr, "LEADSVC_DATA_DIR": b.TempDir(),
		"LEADSVC_SECRET_KEY": base64.StdEncoding.EncodeToString(key), "NATS_URL": natsURL,
		"LEADSVC_NATS_STREAM": s.stream, "LEADSVC_NATS_SUBJECT_PREFIX": testenv.RandomName("bench"),
		"LEADSVC_LOG_LEVEL": "error", "LEADSVC_LOG_FORMAT": "json", "LEADSVC_RATE_LIMIT": "1000000"}
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		s.env = append(s.env, k+"="+v)
	}
	js, err := nc.JetStream()
	if err != nil {
		b.Fatal(err)
	}
	s.js = js
	b.Cleanup(func() { _ = js.DeleteStream(s.stream) })
	s.pool = testenv.PoolOfSize(b, url, 2)

	var acct struct {
		AccountID uuid.UUID `json:"account_id"`
		Token     string    `json:"token"`
	}
	if err := json.Unmarshal(s.cli(b, "account", "create", "--name", "Bench", "--json"), &acct); err != nil {
		b.Fatal(err)
	}
	s.account = acct.AccountID
	s.start(b)
	s.admin = apiClient{base: s.base, token: acct.Token, hc: hc.leadsvc}
	s.campaign = uuid.MustParse(s.admin.mustDo(b, "POST", "/v1/campaigns", benchCampaign(), 201)["id"].(string))
	for _, sh := range filterShapes {
		f := s.admin.mustDo(b, "POST", "/v1/campaigns/"+s.campaign.String()+"/filters",
			map[string]any{"name": "shape " + sh.name, "conditions": sh.conditions}, 201)
		tok := s.admin.mustDo(b, "POST", "/v1/tokens", map[string]any{"name": "reader " + sh.name, "campaign_id": s.campaign,
			"filter_id": f["id"], "permissions": []string{"read"}}, 201)
		s.readers[sh.name] = s.admin.with(tok["secret"].(string))
	}
	tok := s.admin.mustDo(b, "POST", "/v1/tokens", map[string]any{"name": "writer", "campaign_id": s.campaign,
		"filter_id": nil, "permissions": []string{"read", "write"}}, 201)
	s.writer = s.admin.with(tok["secret"].(string))
	// The batch endpoint is probed with an empty batch: a server without
	// the route answers 404 or 405, one with it refuses the body.
	code, _, err := s.writer.do("POST", "/v1/leads/batch", []byte(`{"leads":[]}`))
	if err != nil {
		b.Fatal(err)
	}
	s.hasBatchPath = code != 404 && code != 405
	return s
}

// cli runs a leadsvc subcommand on the service's configuration and
// returns its standard output.
func (s *leadsvcService) cli(b *testing.B, args ...string) []byte {
	b.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("leadsvc %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// meter measures the running process's CPU and its backends'.
func (s *leadsvcService) meter() cpuMeter {
	return cpuMeter{pid: s.proc.Pid(), app: s.app, pool: s.pool}
}

func (s *leadsvcService) start(b *testing.B) {
	b.Helper()
	s.proc = testenv.StartProcess(b, "leadsvc", s.bin, s.env, testenv.HTTPReady(s.base+"/livez"), "serve")
}

// seed adds leads from to to-1 while the service is stopped: their
// lead.created events written into the log with one COPY (the hash chain
// left empty: nothing measured reads it), folded into the views by
// `leadsvc rebuild`, then the service started again. The relay publishes
// the new events when it starts; waitQuiet waits for that.
func (s *leadsvcService) seed(b *testing.B, from, to int) {
	b.Helper()
	s.proc.Stop()
	ctx := context.Background()
	reg := domain.NewRegistry()
	i := from
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"stream_id", "stream_version", "event_id", "event_type",
		"account_id", "campaign_id", "data", "metadata", "recorded_at", "hash"}, pgx.CopyFromFunc(func() ([]any, error) {
		if i == to {
			return nil, nil
		}
		l := generateLead(i)
		i++
		name, data, err := reg.Encode(domain.LeadCreated{LeadID: l.id, CampaignID: s.campaign, AccountID: s.account,
			Status: l.status, Fields: l.fields, At: l.at})
		return []any{domain.LeadStream(l.id), int64(1), uuid.New(), name, s.account, s.campaign,
			data, json.RawMessage(`{}`), l.at, []byte{0}}, err
	}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	s.cli(b, "rebuild")
	s.start(b)
}

// workLeft: see leadsvcWorkLeft.
func (s *leadsvcService) workLeft(ctx context.Context) (string, error) {
	return leadsvcWorkLeft(ctx, s.admin.hc, s.base, s.js, s.stream)
}

// waitQuiet waits until the service has relayed and applied its whole
// log, and returns how long that took; long waits print progress on
// stderr.
func (s *leadsvcService) waitQuiet(b *testing.B) time.Duration {
	b.Helper()
	ctx := context.Background()
	start, lastLog := time.Now(), time.Now()
	for {
		left, err := s.workLeft(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if left == "" {
			return time.Since(start)
		}
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("leadsvc is still busy after 20 minutes: %s", left)
		}
		if time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			fmt.Fprintf(os.Stderr, "%s: waiting for leadsvc to settle (%v): %s\n", b.Name(), time.Since(start).Round(time.Second), left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// disableAutovacuum turns autovacuum (and with it auto-analyze) off on
// every table of the service's schema, whatever its tables are.
func disableAutovacuum(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT quote_ident(c.relname) FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')`)
	if err != nil {
		b.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	if len(tables) == 0 {
		b.Fatal("no tables in the service's schema")
	}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, `ALTER TABLE `+t+` SET (autovacuum_enabled = off)`); err != nil {
			b.Fatal(err)
		}
	}
}

// crudService is the baseline (internal/benchcrud) as a process of its
// own, on its own schema.
type crudService struct {
	base    string
	proc    *testenv.Process
	pool    *pgxpool.Pool // the benchmark's own, on the same schema
	app     string        // the application_name of the service's connections
	writer  apiClient
	readers map[string]apiClient
	camp    uuid.UUID
}

func newCRUD(b *testing.B, bin string, campaign uuid.UUID, hc *httpClientSet) *crudService {
	b.Helper()
	url := testenv.Schema(b)
	addr := testenv.FreeAddr(b)
	c := &crudService{base: "http://" + addr, readers: map[string]apiClient{}, camp: campaign, app: testenv.RandomName("crud_")}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + withApplicationName(b, url, c.app), "CRUD_ADDR=" + addr}
	c.proc = testenv.StartProcess(b, "crudbaseline", bin, env, testenv.HTTPReady(c.base+"/livez"))
	c.pool = testenv.PoolOfSize(b, url, 2)
	ctx := context.Background()
	api := apiClient{base: c.base, hc: hc.crud}
	for _, sh := range filterShapes {
		secret, err := benchcrud.CreateToken(ctx, c.pool, benchcrud.Token{CampaignID: campaign, Filter: sh.crud})
		if err != nil {
			b.Fatal(err)
		}
		c.readers[sh.name] = api.with(secret)
	}
	secret, err := benchcrud.CreateToken(ctx, c.pool, benchcrud.Token{CampaignID: campaign, Write: true})
	if err != nil {
		b.Fatal(err)
	}
	c.writer = api.with(secret)
	return c
}

// meter measures the process's CPU and its backends'.
func (c *crudService) meter() cpuMeter {
	return cpuMeter{pid: c.proc.Pid(), app: c.app, pool: c.pool}
}

// seed adds leads from to to-1 with one COPY and analyzes the table, as
// a team would after an import.
func (c *crudService) seed(b *testing.B, from, to int) {
	b.Helper()
	ctx := context.Background()
	err := benchcrud.CopyLeads(ctx, c.pool, to-from, func(i int) benchcrud.Lead {
		l := generateLead(from + i)
		return benchcrud.Lead{ID: l.id, CampaignID: c.camp, Status: l.status, Fields: l.fields, Version: 1, CreatedAt: l.at, UpdatedAt: l.at}
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.pool.Exec(ctx, `VACUUM ANALYZE leads`); err != nil {
		b.Fatal(err)
	}
}
