package leads_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
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
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// quiet discards logs; LEADSVC_TEST_LOG=debug shows them.
func quiet() *slog.Logger {
	if os.Getenv("LEADSVC_TEST_LOG") == "debug" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is one isolated service: its own schema, NATS server, stream,
// relay and the write side.
type env struct {
	t       *testing.T
	ctx     context.Context
	url     string
	pool    *pgxpool.Pool
	store   *eventstore.Store
	c       commands.Commands
	nc      *nats.Conn
	stream  string
	prefix  string
	reader  *leads.Reader
	account uuid.UUID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	store := eventstore.New(pool, domain.NewRegistry())
	t.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, url: url, pool: pool, store: store, c: c, reader: leads.NewReader(pool, eventlog.New(store)),
		stream: testenv.RandomName("EV_"), prefix: testenv.RandomName("ls")}
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e.account = acct.Account.ID
	return e
}

// startNATS runs an embedded NATS and the relay into it.
func (e *env) startNATS() *testenv.NATS {
	e.t.Helper()
	srv := testenv.StartNATS(e.t)
	e.nc = srv.Connect()
	r, err := eventstore.NewRelay(eventstore.RelayConfig{Stream: e.stream, SubjectPrefix: e.prefix, PollInterval: 5 * time.Millisecond},
		e.store, e.nc, quiet())
	if err != nil {
		e.t.Fatal(err)
	}
	e.goUntilCleanup(r.Run)
	return srv
}

// startRunner runs a projection runner on its own NATS connection until
// the returned stop is called (or the test ends).
func (e *env) startRunner(conn *nats.Conn) (stop func()) {
	e.t.Helper()
	if conn == nil {
		conn = e.nc
	}
	log := eventlog.New(e.store)
	r, err := projections.NewRunner(projections.RunnerConfig{Stream: e.stream, SubjectPrefix: e.prefix, StatusEvery: time.Hour},
		e.pool, log, conn, domain.NewRegistry(), quiet(), nil, leads.New(log, domain.NewRegistry(), views.Of(e.store)))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.goUntilCleanup(r.Run)
}

func (e *env) goUntilCleanup(run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(ctx); err != nil {
			e.t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

func partnerSchema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "tags"},
		},
		Selects: []domain.Select{
			{Key: "source", Label: "Source", Options: []domain.Option{{Value: "abc", Label: "ABC"}, {Value: "xyz", Label: "XYZ"}, {Value: "web", Label: "Web"}}},
			{Key: "tags", Label: "Tags", Options: []domain.Option{{Value: "hot", Label: "Hot"}, {Value: "cold", Label: "Cold"}}},
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
}

func (e *env) campaign() domain.Campaign {
	e.t.Helper()
	res, err := e.c.CreateCampaign.Handle(e.ctx, commands.CreateCampaign{AccountID: e.account, Name: "Leads", Schema: partnerSchema()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Campaign
}

func (e *env) filter(campaign uuid.UUID, conds ...domain.Condition) domain.Filter {
	e.t.Helper()
	res, err := e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account, CampaignID: campaign, Name: "f", Conditions: conds})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Filter
}

func (e *env) updateFilter(id uuid.UUID, del bool, conds ...domain.Condition) {
	e.t.Helper()
	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: id, Name: "f", Conditions: conds, Delete: del}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) lead(campaign uuid.UUID, status string, fields map[string]any) domain.Lead {
	e.t.Helper()
	res, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: campaign, Status: status, Fields: fields})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Lead
}

func (e *env) updateLead(id uuid.UUID, status string, fields map[string]any) {
	e.t.Helper()
	if _, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: id, Status: status, Fields: fields}); err != nil {
		e.t.Fatal(err)
	}
}

func eq(field string, v any) domain.Condition {
	return domain.Condition{Field: field, Op: domain.OpEq, Value: v}
}

// members returns the sorted lead ids of a filter's view.
func (e *env) members(filter uuid.UUID) []uuid.UUID {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT lead_id FROM filter_members WHERE filter_id = $1`, filter)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, id)
	}
	sortIDs(out)
	return out
}

func sortIDs(ids []uuid.UUID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}

func ids(ls ...domain.Lead) []uuid.UUID {
	out := make([]uuid.UUID, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	sortIDs(out)
	return out
}

// waitMembers polls until the filter's view holds exactly want.
func (e *env) waitMembers(filter uuid.UUID, want []uuid.UUID) {
	e.t.Helper()
	if want == nil {
		want = []uuid.UUID{}
	}
	testenv.CheckFor(e.t, 20*time.Second, func() error {
		got := e.members(filter)
		if got == nil {
			got = []uuid.UUID{}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("members of %s = %v, want %v", filter, got, want)
		}
		return nil
	})
}

// expected computes, from the log alone, eval(latest filter, latest lead)
// for every live filter: the answer every interleaving must converge to.
func (e *env) expected() map[uuid.UUID][]uuid.UUID {
	e.t.Helper()
	var recs []eventstore.Record
	e.readWholeLog(func() (int, error) {
		var err error
		recs, err = e.store.ReadAll(e.ctx, eventstore.Cursor{}, 1_000_000)
		return len(recs), err
	})
	camps := map[uuid.UUID]domain.Campaign{}
	filters := map[uuid.UUID]domain.Filter{}
	ls := map[uuid.UUID]domain.Lead{}
	for _, r := range recs {
		agg, id, _ := domain.ParseStreamID(r.StreamID)
		switch agg {
		case domain.AggregateCampaign:
			camps[id] = camps[id].Evolve(r.Event)
		case domain.AggregateFilter:
			filters[id] = filters[id].Evolve(r.Event)
		case domain.AggregateLead:
			ls[id] = ls[id].Evolve(r.Event)
		}
	}
	out := map[uuid.UUID][]uuid.UUID{}
	for fid, f := range filters {
		if !f.Exists() {
			continue
		}
		out[fid] = []uuid.UUID{}
		for lid, l := range ls {
			if l.CampaignID == f.CampaignID && f.Matches(camps[f.CampaignID].Schema, l.View()) {
				out[fid] = append(out[fid], lid)
			}
		}
		sortIDs(out[fid])
	}
	return out
}

// readWholeLog repeats a tailing read until it returns every event
// written: it sees nothing above the oldest transaction running in the
// database (another test's, a projection's), so a single read may stop
// short.
func (e *env) readWholeLog(read func() (int, error)) {
	e.t.Helper()
	testenv.CheckFor(e.t, 10*time.Second, func() error {
		total, err := e.store.Count(e.ctx)
		if err != nil {
			return err
		}
		n, err := read()
		if err != nil {
			return err
		}
		if int64(n) != total {
			return fmt.Errorf("read %d of %d events", n, total)
		}
		return nil
	})
}

// waitConverged polls until every live filter's view is what the log says
// and every lead row is at its stream's version.
func (e *env) waitConverged() {
	e.t.Helper()
	want := e.expected()
	lastLog := time.Now()
	testenv.CheckFor(e.t, 60*time.Second, func() (err error) {
		defer func() {
			if err != nil && time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				e.t.Logf("still converging: %v", err)
			}
		}()
		var stale int
		err = e.pool.QueryRow(e.ctx, `SELECT count(*) FROM (SELECT stream_id, max(stream_version) v FROM events
			WHERE stream_id LIKE 'lead-%' GROUP BY stream_id) s
			LEFT JOIN lead_views lv ON 'lead-' || lv.id::text = s.stream_id
			WHERE lv.version IS DISTINCT FROM s.v`).Scan(&stale)
		if err != nil {
			return err
		}
		if stale > 0 {
			return fmt.Errorf("%d lead rows behind their streams", stale)
		}
		for fid, w := range want {
			got := e.members(fid)
			if got == nil {
				got = []uuid.UUID{}
			}
			if !slices.Equal(got, w) {
				return fmt.Errorf("filter %s: %d members, want %d (%s)", fid, len(got), len(w), e.describeFilter(fid))
			}
		}
		return nil
	})
}

// describeFilter says what the views hold of a filter, for failures.
func (e *env) describeFilter(id uuid.UUID) string {
	var inline, applied int64
	var conds string
	_ = e.pool.QueryRow(e.ctx, `SELECT f.version, coalesce(v.version, 0), f.conditions::text FROM filters f
		LEFT JOIN filter_views v ON v.id = f.id WHERE f.id = $1`, id).Scan(&inline, &applied, &conds)
	return fmt.Sprintf("filter at version %d, membership of version %d, conditions %s", inline, applied, conds)
}

func TestLeadsMoveInAndOutOfFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	abc := e.filter(camp.ID, eq("source", "abc"))
	won := e.filter(camp.ID, eq("status", "won"))
	rich := e.filter(camp.ID, domain.Condition{Field: "budget", Op: domain.OpGte, Value: 1000})

	a := e.lead(camp.ID, "", map[string]any{"name": "A", "source": "abc", "budget": 500})
	b := e.lead(camp.ID, "won", map[string]any{"name": "B", "source": "xyz", "budget": 5000})
	e.waitMembers(abc.ID, ids(a))
	e.waitMembers(won.ID, ids(b))
	e.waitMembers(rich.ID, ids(b))

	// A field change moves a out of abc and into rich; a status change
	// moves b out of won.
	e.updateLead(a.ID, "", map[string]any{"source": "web", "budget": 1000})
	e.updateLead(b.ID, "lost", nil)
	e.waitMembers(abc.ID, nil)
	e.waitMembers(won.ID, nil)
	e.waitMembers(rich.ID, ids(a, b))

	// Clearing a field takes a lead out of a filter that needs it.
	e.updateLead(a.ID, "won", map[string]any{"budget": nil})
	e.waitMembers(rich.ID, ids(b))
	e.waitMembers(won.ID, ids(a))

	got, err := e.reader.Get(e.ctx, e.account, a.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "won" || got.Fields["source"] != "web" || got.Version != 3 {
		t.Fatalf("lead view = %+v, want status won, source web, version 3", got)
	}
	if _, has := got.Fields["budget"]; has {
		t.Fatalf("lead view fields = %v, want budget cleared", got.Fields)
	}
}

func TestFilterNarrowedWidenedAndDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	var all []domain.Lead
	for i := range 12 {
		src := []string{"abc", "xyz", "web"}[i%3]
		all = append(all, e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint(i), "source": src, "budget": i * 100}))
	}
	f := e.filter(camp.ID, eq("source", "abc"))
	e.waitMembers(f.ID, ids(all[0], all[3], all[6], all[9]))

	// Narrowed: abc and budget > 300.
	e.updateFilter(f.ID, false, eq("source", "abc"), domain.Condition{Field: "budget", Op: domain.OpGt, Value: 300})
	e.waitMembers(f.ID, ids(all[6], all[9]))

	// Widened: abc or xyz.
	e.updateFilter(f.ID, false, domain.Condition{Field: "source", Op: domain.OpIn, Value: []any{"abc", "xyz"}})
	e.waitMembers(f.ID, ids(all[0], all[1], all[3], all[4], all[6], all[7], all[9], all[10]))

	// Deleted: its view empties, and a new matching lead does not enter it.
	e.updateFilter(f.ID, true)
	e.waitMembers(f.ID, nil)
	late := e.lead(camp.ID, "", map[string]any{"name": "late", "source": "abc"})
	other := e.filter(camp.ID, eq("name", "late"))
	e.waitMembers(other.ID, ids(late))
	e.waitMembers(f.ID, nil)
}

func TestManyFiltersPerCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	for i := range 40 {
		cond := domain.Condition{Field: "budget", Op: domain.OpGte, Value: i * 25}
		if i%2 == 1 {
			cond = eq("source", []string{"abc", "xyz", "web"}[i%3])
		}
		e.filter(camp.ID, cond)
	}
	for i := range 60 {
		e.lead(camp.ID, []string{"new", "won", "lost"}[i%3], map[string]any{"name": fmt.Sprint(i),
			"source": []string{"abc", "xyz", "web"}[i%3], "budget": i * 17})
	}
	e.waitConverged()
}

// TestRepeatedAndReorderedDeliveryChangesNothing applies a lead's events
// straight to the projection twice, newest first: the row and membership
// are those of the whole stream.
func TestRepeatedAndReorderedDeliveryChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	f := e.filter(camp.ID, eq("source", "abc"))
	l := e.lead(camp.ID, "", map[string]any{"name": "A", "source": "xyz"})
	e.updateLead(l.ID, "", map[string]any{"source": "abc"})
	e.updateLead(l.ID, "won", map[string]any{"budget": 10})

	log := eventlog.New(e.store)
	var all []projections.Event
	e.readWholeLog(func() (int, error) {
		var err error
		all, err = log.ReadAll(e.ctx, projections.Cursor{}, 1000)
		return len(all), err
	})
	var deliveries []projections.Event
	for i := len(all) - 1; i >= 0; i-- {
		deliveries = append(deliveries, all[i])
	}
	deliveries = append(deliveries, all...)
	p := leads.New(log, domain.NewRegistry(), views.Of(e.store))
	for _, ev := range deliveries {
		tx, err := e.pool.Begin(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(e.ctx, tx, []projections.Event{ev}); err != nil {
			t.Fatalf("Apply %s v%d: %v", ev.StreamID, ev.StreamVersion, err)
		}
		if err := tx.Commit(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.reader.Get(e.ctx, e.account, l.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.Status != "won" || got.Fields["source"] != "abc" || got.Fields["budget"] != 10.0 {
		t.Fatalf("lead view after repeated, reordered delivery = %+v, want version 3, won, abc, budget 10", got)
	}
	if m := e.members(f.ID); !slices.Equal(m, ids(l)) {
		t.Fatalf("members = %v, want %v", m, ids(l))
	}
}

// failingAfter wraps the projection and fails the transaction in which
// it would apply its (n+1)th event, after applying the events before it
// there: a consumer dying in the middle of a batch.
type failingAfter struct {
	p       *leads.Projection
	n       int
	applied int
	fired   bool
}

func (f *failingAfter) Name() string { return f.p.Name() }

func (f *failingAfter) Apply(ctx context.Context, tx pgx.Tx, events []projections.Event) error {
	if !f.fired && f.applied+len(events) > f.n {
		f.fired = true
		if err := f.p.Apply(ctx, tx, events[:f.n-f.applied]); err != nil {
			return err
		}
		return fmt.Errorf("killed after %d of %d events", f.n-f.applied, len(events))
	}
	if err := f.p.Apply(ctx, tx, events); err != nil {
		return err
	}
	f.applied += len(events)
	return nil
}

// syncCommitProbe records the synchronous_commit setting its transactions
// run with.
type syncCommitProbe struct {
	p    *leads.Projection
	seen []string
}

func (s *syncCommitProbe) Name() string { return s.p.Name() }

func (s *syncCommitProbe) Apply(ctx context.Context, tx pgx.Tx, events []projections.Event) error {
	var v string
	if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		return err
	}
	s.seen = append(s.seen, v)
	return s.p.Apply(ctx, tx, events)
}

// TestProjectionCommitsDoNotWaitForTheDisk checks that a projection's
// transactions run with synchronous_commit off, and only they: the pool's
// other transactions keep the server's setting.
func TestProjectionCommitsDoNotWaitForTheDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	e.lead(camp.ID, "", map[string]any{"name": "a", "source": "abc"})
	log := eventlog.New(e.store)
	p := &syncCommitProbe{p: leads.New(log, domain.NewRegistry(), views.Of(e.store))}
	r, err := projections.NewRunner(projections.RunnerConfig{}, e.pool, log, nil, domain.NewRegistry(), quiet(), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(p.seen) == 0; time.Sleep(10 * time.Millisecond) {
		if err := r.CatchUp(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the catch-up applied nothing")
		}
	}
	for _, v := range p.seen {
		if v != "off" {
			t.Fatalf("a projection transaction ran with synchronous_commit = %s, want off", v)
		}
	}
	var outside string
	if err := e.pool.QueryRow(e.ctx, `SHOW synchronous_commit`).Scan(&outside); err != nil || outside == "off" {
		t.Fatalf("synchronous_commit outside a projection's transaction = %q, %v; want the server's setting", outside, err)
	}
}

func TestConsumerKilledMidBatchResumesFromItsCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	e.filter(camp.ID, eq("source", "abc"))
	for i := range 30 {
		l := e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint(i), "source": []string{"abc", "xyz"}[i%2]})
		if i%3 == 0 {
			e.updateLead(l.ID, "won", map[string]any{"source": "abc"})
		}
	}
	log := eventlog.New(e.store)
	p := &failingAfter{p: leads.New(log, domain.NewRegistry(), views.Of(e.store)), n: 7}
	r, err := projections.NewRunner(projections.RunnerConfig{CatchUpBatch: 10}, e.pool, log, nil, domain.NewRegistry(), quiet(), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	// A catch-up reads only below the oldest running transaction of the
	// whole database, which other tests' transactions can hold back: it
	// may stop short of the kill and need calling again.
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := r.CatchUp(e.ctx, p)
		if err != nil && strings.Contains(err.Error(), "killed") {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("first CatchUp = %v, want the kill", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before, err := projections.LoadCheckpoint(e.ctx, e.pool, leads.Name)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the killed batch is visible, and the checkpoint is at
	// the last batch committed before it.
	var rows int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM lead_views`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if before.Position == 0 && rows != 0 {
		t.Fatalf("lead rows after a killed first batch = %d, want 0", rows)
	}
	// Restarted, the consumer catches up to the head (calling again when
	// another test's transaction held the readable end back, and the
	// head with it: the head must also be the end of this test's log).
	testenv.CheckFor(t, 30*time.Second, func() error {
		if err := r.CatchUp(e.ctx, p); err != nil {
			t.Fatalf("CatchUp after restart: %v", err)
		}
		var unread int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM events WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())`).
			Scan(&unread); err != nil || unread > 0 {
			return fmt.Errorf("%d events above the readable end (%v)", unread, err)
		}
		after, err := projections.LoadCheckpoint(e.ctx, e.pool, leads.Name)
		if err != nil {
			return err
		}
		head, err := e.store.Head(e.ctx)
		if err != nil {
			return err
		}
		if after.Position != head.Position || after.TxID != head.TxID {
			return fmt.Errorf("checkpoint after restart = %+v, want the head %+v", after, head)
		}
		return nil
	})
	e.waitConverged()
}

// TestMembershipConvergesUnderConcurrency runs three consumers of one
// durable consumer (JetStream splits the messages between them) while
// writers change leads and filters of two campaigns at random: every view
// must end as eval(latest filter, latest lead).
func TestMembershipConvergesUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.startNATS()
	for range 3 {
		e.startRunner(srv.Connect())
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	camps := []domain.Campaign{e.campaign(), e.campaign()}
	sources := []string{"abc", "xyz", "web"}
	statuses := []string{"new", "won", "lost"}
	randomCondition := func(rnd *rand.Rand) domain.Condition {
		switch rnd.IntN(4) {
		case 0:
			return eq("source", sources[rnd.IntN(3)])
		case 1:
			return eq("status", statuses[rnd.IntN(3)])
		case 2:
			return domain.Condition{Field: "budget", Op: domain.OpGte, Value: rnd.IntN(1000)}
		default:
			return domain.Condition{Field: "tags", Op: domain.OpContains, Value: []string{"hot", "cold"}[rnd.IntN(2)]}
		}
	}
	var filters []domain.Filter
	var ls []domain.Lead
	rnd := rand.New(rand.NewPCG(uint64(seed), 1))
	for i := range 6 {
		filters = append(filters, e.filter(camps[i%2].ID, randomCondition(rnd)))
	}
	for i := range 40 {
		ls = append(ls, e.lead(camps[i%2].ID, "", map[string]any{"name": fmt.Sprint(i), "source": sources[rnd.IntN(3)]}))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(seed), uint64(w+2)))
			for range 40 {
				if w == 0 && rnd.IntN(2) == 0 {
					f := filters[rnd.IntN(len(filters))]
					_, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: f.ID, Name: "f",
						Conditions: []domain.Condition{randomCondition(rnd), randomCondition(rnd)}[:1+rnd.IntN(2)]})
					if err != nil {
						t.Errorf("UpdateFilter: %v", err)
						return
					}
					continue
				}
				l := ls[rnd.IntN(len(ls))]
				fields := map[string]any{"source": sources[rnd.IntN(3)], "budget": rnd.IntN(1000)}
				if rnd.IntN(2) == 0 {
					fields["tags"] = []any{[]string{"hot", "cold"}[rnd.IntN(2)]}
				}
				_, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: l.ID,
					Status: statuses[rnd.IntN(3)], Fields: fields})
				if err != nil {
					t.Errorf("UpdateLead: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	e.waitConverged()
}
