package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/audit"
)

// clock is the one clock of a test's commands and store: event times and
// recorded_at agree, and the test decides when time passes.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	store   *eventstore.Store
	cmd     *commands.Commands
	audit   *audit.Reader
	clock   *clock
	account uuid.UUID
	owner   commands.TokenInfo
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	pool := testenv.Pool(t, url)
	store := eventstore.New(pool, domain.NewRegistry(), eventstore.WithClock(clk.now))
	t.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: []byte("0123456789abcdef0123456789abcdef"), Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, pool: pool, store: store, cmd: c, clock: clk,
		audit: audit.New(audit.Config{Pool: pool, Codec: domain.NewRegistry(), Clock: clk.now, Verify: verifier(store)})}
	res, err := c.CreateAccount(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e.account, e.owner = res.Account.ID, res.Token
	return e
}

func verifier(store *eventstore.Store) audit.VerifyFunc {
	return func(ctx context.Context, streamID string) (*audit.ChainBreak, error) {
		b, err := store.VerifyStream(ctx, streamID)
		if err != nil || b == nil {
			return nil, err
		}
		cb := audit.ChainBreak(*b)
		return &cb, nil
	}
}

// meta is a write by the owner token.
func (e *env) meta() commands.Meta {
	return commands.Meta{ActorTokenID: e.owner.ID.String(), RequestID: fmt.Sprint("req-", e.clock.now().Unix())}
}

// tick lets a minute pass before the next write.
func (e *env) tick() time.Time {
	e.clock.advance(time.Minute)
	return e.clock.now()
}

var testSchema = domain.Schema{
	Fields: []domain.Field{
		{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
		{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
		{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
		{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "source"},
		{Key: "email", Label: "Email", Type: domain.TypeEmail},
	},
	Selects: []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{
		{Value: "abc", Label: "ABC"}, {Value: "xyz", Label: "XYZ"}, {Value: "web", Label: "Web"}}}},
	Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"}, {Slug: "won", Label: "Won"}},
}

func (e *env) campaign() uuid.UUID {
	e.t.Helper()
	res, err := e.cmd.CreateCampaign(e.ctx, commands.CreateCampaign{AccountID: e.account, Name: "C", Schema: testSchema, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Campaign.ID
}

func (e *env) filter(campaign uuid.UUID, conds []domain.Condition, anyOf [][]domain.Condition) uuid.UUID {
	e.t.Helper()
	res, err := e.cmd.CreateFilter(e.ctx, commands.CreateFilter{AccountID: e.account, CampaignID: campaign, Name: "F",
		Conditions: conds, Any: anyOf, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Filter.ID
}

func (e *env) token(campaign, filter *uuid.UUID, perms ...domain.Permission) commands.TokenInfo {
	e.t.Helper()
	res, err := e.cmd.CreateToken(e.ctx, commands.CreateToken{AccountID: e.account, CampaignID: campaign, FilterID: filter,
		Name: "partner", Permissions: perms, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Token
}

// reference is VisibleLeads the slow way: every lead of the campaign read
// with eventstore.ReadStream up to at and folded with domain.FoldLead,
// the filter and schema likewise, then filter.Matches.
func (e *env) reference(campaign, filterID uuid.UUID, at time.Time) []uuid.UUID {
	e.t.Helper()
	read := func(stream string) []domain.Event {
		recs, err := e.store.ReadStream(e.ctx, stream, eventstore.ReadOptions{UpTo: at})
		if err != nil {
			e.t.Fatal(err)
		}
		return eventstore.Events(recs)
	}
	f := domain.FoldFilter(read(domain.FilterStream(filterID)))
	schema := domain.FoldCampaign(read(domain.CampaignStream(campaign))).Schema
	rows, err := e.pool.Query(e.ctx, `SELECT DISTINCT stream_id FROM events WHERE campaign_id = $1 AND stream_id LIKE 'lead-%'`, campaign)
	if err != nil {
		e.t.Fatal(err)
	}
	var streams []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		streams = append(streams, s)
	}
	rows.Close()
	out := []uuid.UUID{}
	if !f.Exists() {
		return out
	}
	for _, s := range streams {
		l := domain.FoldLead(read(s))
		if l.Exists() && f.Matches(schema, l.View()) {
			out = append(out, l.ID)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return compareStrings(a.String(), b.String()) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestVisibleLeadsAgreesWithTheFullReplay: the one-scan evaluation of
// visible-at-T gives, for filters over fields, cleared fields, status,
// multiselects, any-groups and times, exactly the leads a full fold of
// every stream gives, at times across a history where the filters change.
func TestVisibleLeadsAgreesWithTheFullReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	filters := [][2]any{
		{[]domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}}, [][]domain.Condition(nil)},
		{[]domain.Condition{{Field: "budget", Op: domain.OpGte, Value: 500}, {Field: "status", Op: domain.OpNeq, Value: "won"}}, [][]domain.Condition(nil)},
		{[]domain.Condition{{Field: "email", Op: domain.OpEmpty}}, [][]domain.Condition{{{Field: "tags", Op: domain.OpContains, Value: "xyz"}, {Field: "source", Op: domain.OpIn, Value: []any{"web"}}}}},
		{[]domain.Condition{{Field: "updated_at", Op: domain.OpGte, Value: "2026-03-01T10:00:00Z"}, {Field: "created_at", Op: domain.OpLt, Value: "2026-03-01T11:00:00Z"}}, [][]domain.Condition(nil)},
	}
	var ids []uuid.UUID
	var toks []commands.TokenInfo
	for _, f := range filters {
		id := e.filter(camp, f[0].([]domain.Condition), f[1].([][]domain.Condition))
		ids = append(ids, id)
		toks = append(toks, e.token(&camp, &id, domain.PermRead))
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	sources := []string{"abc", "xyz", "web"}
	var leads []uuid.UUID
	var times []time.Time
	for i := range 120 {
		times = append(times, e.tick())
		switch {
		case i < 20 || rnd.IntN(3) == 0 || len(leads) == 0:
			fields := map[string]any{"name": fmt.Sprint("Lead ", i), "source": sources[rnd.IntN(3)], "budget": rnd.IntN(1000)}
			if rnd.IntN(2) == 0 {
				fields["email"] = "a@example.com"
			}
			if rnd.IntN(2) == 0 {
				fields["tags"] = []any{sources[rnd.IntN(3)]}
			}
			res, err := e.cmd.CreateLead(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: camp, Fields: fields, Meta: e.meta()})
			if err != nil {
				t.Fatal(err)
			}
			leads = append(leads, res.Lead.ID)
		case i%17 == 0:
			// The admin changes a filter's mind mid-history.
			k := rnd.IntN(len(ids))
			conds := []domain.Condition{{Field: "source", Op: domain.OpNeq, Value: sources[rnd.IntN(3)]}}
			if _, err := e.cmd.UpdateFilter(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: ids[k], Name: "F2",
				Conditions: conds, Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		case i%11 == 0:
			l := leads[rnd.IntN(len(leads))]
			if _, err := e.cmd.AttachFile(e.ctx, commands.AttachFile{AccountID: e.account, LeadID: l, Name: "a.txt",
				ContentType: "text/plain", Content: []byte("x"), Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		default:
			l := leads[rnd.IntN(len(leads))]
			fields := map[string]any{"budget": rnd.IntN(1000)}
			if rnd.IntN(3) == 0 {
				fields["email"] = nil // cleared
			}
			if rnd.IntN(3) == 0 {
				fields["source"] = sources[rnd.IntN(3)]
			}
			status := []string{"", "new", "contacted", "won"}[rnd.IntN(4)]
			if _, err := e.cmd.UpdateLead(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: l, Status: status,
				Fields: fields, Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	checked := 0
	for _, at := range append([]time.Time{times[0].Add(-time.Hour), times[5], times[len(times)-1]}, times[20:][rnd.IntN(100)], times[60], times[90].Add(30*time.Second)) {
		for k, tok := range toks {
			got, err := e.audit.VisibleLeads(e.ctx, e.account, tok.ID, at)
			if err != nil {
				t.Fatal(err)
			}
			want := e.reference(camp, ids[k], at)
			if got.State == audit.StateNotCreated {
				want = []uuid.UUID{}
			}
			if !slices.Equal(got.Data, want) || got.Count != len(want) {
				t.Fatalf("filter %d at %s: %d visible leads %v, the full replay says %d %v", k, at, len(got.Data), got.Data, len(want), want)
			}
			checked += len(want)
		}
	}
	if checked == 0 {
		t.Fatal("no lead was ever visible: the comparison proves nothing")
	}
}
