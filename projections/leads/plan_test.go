package leads_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestListPlansAreOneOrderedIndexScan checks the plan of every list shape
// on views bulk-loaded with no statistics (autovacuum off, no ANALYZE),
// then again after ANALYZE, as a custom and as a generic plan: one index
// scan in the page's order, on the index the shape names, bounded by the
// view's id (so no other filter's, campaign's or account's rows are
// read), no sort, no join.
func TestListPlansAreOneOrderedIndexScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, pool, acct := e.ctx, e.pool, e.account
	big, small, filter := uuid.New(), uuid.New(), uuid.New()
	loadViewsWithoutStatistics(t, pool, acct, big, small, filter)

	since := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	after := &leads.Key{UpdatedAt: since.Add(time.Hour), ID: uuid.New()}
	type shape struct {
		name  string
		q     leads.Query
		index string // the one index the scan may use
		bound string // what the index condition must hold
	}
	var shapes []shape
	for _, view := range []struct {
		name         string
		q            leads.Query
		order, staus string
		bound        string
	}{
		{"filter", leads.Query{AccountID: acct, CampaignID: &big, FilterID: &filter}, "filter_members_order", "filter_members_status_order", "filter_id = "},
		{"campaign", leads.Query{AccountID: acct, CampaignID: &big}, "lead_views_campaign_order", "lead_views_campaign_status_order", "campaign_id = "},
		{"account", leads.Query{AccountID: acct}, "lead_views_account_order", "lead_views_account_order", "account_id = "},
	} {
		for _, status := range []string{"", "contacted"} {
			for _, sinceOpt := range []*time.Time{nil, &since} {
				for _, afterOpt := range []*leads.Key{nil, after} {
					q := view.q
					q.Status, q.UpdatedSince, q.After, q.Limit = status, sinceOpt, afterOpt, 50
					s := shape{name: view.name, q: q, index: view.order, bound: view.bound}
					if status != "" {
						s.name += "+status"
						s.index = view.staus
					}
					if sinceOpt != nil {
						s.name += "+updated_since"
					}
					if afterOpt != nil {
						s.name += "+cursor"
					}
					shapes = append(shapes, s)
				}
			}
		}
	}
	for _, stats := range []string{"no statistics", "analyzed"} {
		if stats == "analyzed" {
			if _, err := pool.Exec(ctx, `ANALYZE lead_views; ANALYZE filter_members`); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			for _, s := range shapes {
				sql, args := leads.ListSQL(s.q)
				plan := explainPlan(t, pool, mode, sql, args)
				if err := orderedIndexScan(plan, s.index, s.bound, "Forward"); err != nil {
					t.Errorf("%s, %s, %s: %v\nplan: %s", stats, mode, s.name, err, plan)
				}
			}
		}
	}
}

// TestNewestFirstListsAreOneBackwardIndexScan checks the console's
// list of a campaign, newest-changed first, by status, from a cursor and
// with a search: the same index as the oldest-first list, scanned
// backward, with no sort, with and without statistics.
func TestNewestFirstListsAreOneBackwardIndexScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, pool, acct := e.ctx, e.pool, e.account
	big, small, filter := uuid.New(), uuid.New(), uuid.New()
	loadViewsWithoutStatistics(t, pool, acct, big, small, filter)

	after := &leads.Key{UpdatedAt: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), ID: uuid.New()}
	search := &leads.Search{Text: "Lead 4", Keys: []string{"name", "source"}}
	type shape struct {
		name  string
		q     leads.Query
		index string
	}
	var shapes []shape
	for _, status := range []string{"", "contacted"} {
		for _, afterOpt := range []*leads.Key{nil, after} {
			for _, searchOpt := range []*leads.Search{nil, search} {
				s := shape{name: "campaign", index: "lead_views_campaign_order",
					q: leads.Query{AccountID: acct, CampaignID: &big, Newest: true, Status: status, After: afterOpt, Search: searchOpt, Limit: 50}}
				if status != "" {
					s.name, s.index = s.name+"+status", "lead_views_campaign_status_order"
				}
				if afterOpt != nil {
					s.name += "+cursor"
				}
				if searchOpt != nil {
					s.name += "+search"
				}
				shapes = append(shapes, s)
			}
		}
	}
	for _, stats := range []string{"no statistics", "analyzed"} {
		if stats == "analyzed" {
			if _, err := pool.Exec(ctx, `ANALYZE lead_views`); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			for _, s := range shapes {
				sql, args := leads.ListSQL(s.q)
				plan := explainPlan(t, pool, mode, sql, args)
				if err := orderedIndexScan(plan, s.index, "campaign_id = ", "Backward"); err != nil {
					t.Errorf("%s, %s, %s: %v\nplan: %s", stats, mode, s.name, err, plan)
				}
			}
		}
	}
}

// loadViewsWithoutStatistics fills the views the way a burst of creates
// would, faster: 60,000 leads of campaign big, 20,000 of small and
// 20,000 of another account, filter holding a tenth of big's, nine other
// filters of big holding the rest between them, with autovacuum off so
// nothing analyses the tables meanwhile.
func loadViewsWithoutStatistics(t *testing.T, pool *pgxpool.Pool, acct, big, small, filter uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	other, otherCamp := uuid.New(), uuid.New()
	stmts := []string{
		`ALTER TABLE lead_views SET (autovacuum_enabled = false)`,
		`ALTER TABLE filter_members SET (autovacuum_enabled = false)`,
	}
	// In chunks of 10,000: one long statement would hold back every other
	// test's reads of the log (they read below the oldest transaction).
	for k := range 10 {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO lead_views (id, account_id, campaign_id, status, fields, files, version, created_at, updated_at)
			SELECT gen_random_uuid(), a, c, (ARRAY['new','contacted','won','lost'])[1 + i %% 4],
				jsonb_build_object('name', 'Lead ' || i, 'source', 'p' || (i %% 10), 'budget', i %% 20000), '[]', 1,
				timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-01-01' + i * interval '1 second'
			FROM generate_series(%[6]d, %[6]d + 9999) i,
				LATERAL (SELECT CASE WHEN i <= 80000 THEN '%[1]s'::uuid ELSE '%[2]s'::uuid END a,
					CASE WHEN i <= 60000 THEN '%[3]s'::uuid WHEN i <= 80000 THEN '%[4]s'::uuid ELSE '%[5]s'::uuid END c) ac`,
			acct, other, big, small, otherCamp, 1+k*10000))
	}
	for k := range 10 {
		f := uuid.New()
		if k == 0 {
			f = filter
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO filter_members (filter_id, lead_id, updated_at, account_id, campaign_id,
				status, fields, files, version, created_at)
			SELECT '%s', id, updated_at, account_id, campaign_id, status, fields, files, version, created_at
			FROM lead_views WHERE campaign_id = '%s' AND fields->>'source' = 'p%d'`, f, big, k))
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("load: %v\n%s", err, s)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM filter_members WHERE filter_id = $1`, filter).Scan(&n); err != nil || n != 6000 {
		t.Fatalf("the filter's view holds %d leads (%v), want 6000", n, err)
	}
}

// explainPlan returns the JSON plan of sql with args under plan_cache_mode
// mode, through PREPARE and EXECUTE, as a pooled connection's prepared
// statement would run it after the reader's PinListPlan.
func explainPlan(t *testing.T, pool *pgxpool.Pool, mode, sql string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	literals := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case uuid.UUID:
			literals[i] = "'" + v.String() + "'"
		case time.Time:
			literals[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		case string:
			literals[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case int:
			literals[i] = fmt.Sprint(v)
		default:
			t.Fatalf("explain: no literal for %T", a)
		}
	}
	var plan string
	for _, s := range []string{`BEGIN`, `SELECT ` + leads.PinListPlan, `SET LOCAL plan_cache_mode = ` + mode, `PREPARE list_shape AS ` + sql} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	defer func() { _, _ = conn.Exec(ctx, `ROLLBACK; DEALLOCATE list_shape`) }()
	if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE list_shape(`+strings.Join(literals, ", ")+`)`).Scan(&plan); err != nil {
		t.Fatalf("explain: %v", err)
	}
	return plan
}

// orderedIndexScan checks that plan is a Limit over exactly one index
// scan of index in direction (Forward, Backward) whose index condition
// holds bound, with nothing else: no sort, join, bitmap or sequential
// scan.
func orderedIndexScan(plan, index, bound, direction string) error {
	nodes, err := testenv.PlanNodes(plan)
	if err != nil {
		return err
	}
	var types []string
	for _, n := range nodes {
		types = append(types, fmt.Sprint(n["Node Type"]))
	}
	if len(nodes) != 2 || types[0] != "Limit" || types[1] != "Index Scan" {
		return fmt.Errorf("nodes %v, want [Limit Index Scan]", types)
	}
	scan := nodes[1]
	if got := fmt.Sprint(scan["Index Name"]); got != index {
		return fmt.Errorf("index %s, want %s", got, index)
	}
	if got := fmt.Sprint(scan["Scan Direction"]); got != direction {
		return fmt.Errorf("scan direction %s, want %s", got, direction)
	}
	if cond := fmt.Sprint(scan["Index Cond"]); !strings.Contains(cond, bound) {
		return fmt.Errorf("index condition %s does not hold %q", cond, bound)
	}
	return nil
}

// TestListsReadTheLeadAsItIsNow pages a filter's, a campaign's and an
// account's view after leads changed inside the filter: each page shows
// the leads' current status and fields, in (updated_at, id) order, by
// status too, newest first and by a search; a campaign of another
// account lists nothing.
func TestListsReadTheLeadAsItIsNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	f := e.filter(camp.ID, eq("source", "abc"))
	var in []domain.Lead
	for i := range 5 {
		in = append(in, e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint("In ", i), "source": "abc"}))
		e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint("Out ", i), "source": "xyz"})
	}
	e.updateLead(in[1].ID, "won", map[string]any{"name": "Renamed"})
	e.updateLead(in[3].ID, "won", nil)
	e.waitConverged()

	list := func(q leads.Query) []string {
		t.Helper()
		q.Limit = 2
		var got []string
		for {
			page, err := e.reader.List(e.ctx, q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			for _, l := range page.Leads {
				got = append(got, fmt.Sprintf("%s/%s/%v", l.Status, l.Fields["name"], l.Version))
			}
			if page.Next == nil {
				return got
			}
			q.After = page.Next
		}
	}
	want := "new/In 0/1 new/In 2/1 new/In 4/1 won/Renamed/2 won/In 3/2"
	if got := strings.Join(list(leads.Query{AccountID: e.account, FilterID: &f.ID}), " "); got != want {
		t.Errorf("filter list = %s, want %s", got, want)
	}
	want = "won/Renamed/2 won/In 3/2"
	if got := strings.Join(list(leads.Query{AccountID: e.account, FilterID: &f.ID, Status: "won"}), " "); got != want {
		t.Errorf("filter list by status = %s, want %s", got, want)
	}
	if got := strings.Join(list(leads.Query{AccountID: e.account, CampaignID: &camp.ID, Status: "won"}), " "); got != want {
		t.Errorf("campaign list by status = %s, want %s", got, want)
	}
	if got := len(list(leads.Query{AccountID: e.account, CampaignID: &camp.ID})); got != 10 {
		t.Errorf("campaign list has %d leads, want 10", got)
	}
	if got := len(list(leads.Query{AccountID: e.account})); got != 10 {
		t.Errorf("account list has %d leads, want 10", got)
	}
	if got := list(leads.Query{AccountID: uuid.New(), CampaignID: &camp.ID}); len(got) != 0 {
		t.Errorf("another account lists %v from this account's campaign, want nothing", got)
	}

	// Newest first, as the console lists: the changed leads lead, then
	// the others from the last created, across pages.
	want = "won/In 3/2 won/Renamed/2 new/Out 4/1 new/In 4/1 new/Out 3/1 new/Out 2/1 new/In 2/1 new/Out 1/1 new/Out 0/1 new/In 0/1"
	if got := strings.Join(list(leads.Query{AccountID: e.account, CampaignID: &camp.ID, Newest: true}), " "); got != want {
		t.Errorf("campaign list newest first = %s, want %s", got, want)
	}
	search := func(text string, keys ...string) string {
		return strings.Join(list(leads.Query{AccountID: e.account, CampaignID: &camp.ID, Newest: true,
			Search: &leads.Search{Text: text, Keys: keys}}), " ")
	}
	for _, c := range []struct {
		text string
		keys []string
		want string
	}{
		{"rEnAm", []string{"name"}, "won/Renamed/2"},
		{"out", []string{"name"}, "new/Out 4/1 new/Out 3/1 new/Out 2/1 new/Out 1/1 new/Out 0/1"},
		{"xyz", []string{"name"}, ""},
		{"xyz", []string{"name", "source"}, "new/Out 4/1 new/Out 3/1 new/Out 2/1 new/Out 1/1 new/Out 0/1"},
		{"%", []string{"name", "source"}, ""},
		{"_", []string{"name", "source"}, ""},
		{"In", nil, ""},
	} {
		if got := search(c.text, c.keys...); got != c.want {
			t.Errorf("search %q in %v = %q, want %q", c.text, c.keys, got, c.want)
		}
	}
}
