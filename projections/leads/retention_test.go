package leads_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestExpiredLeadsPlanIsOneOrderedIndexScan checks the retention job's
// read, by creation and by last change, with and without statistics, as
// a custom and a generic plan: one forward scan of the partial index of
// live leads that its basis names (an index-only scan: the ids are in
// it), bounded by the campaign, no sort.
func TestExpiredLeadsPlanIsOneOrderedIndexScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, pool, acct := e.ctx, e.pool, e.account
	big, small, filter := uuid.New(), uuid.New(), uuid.New()
	loadViewsWithoutStatistics(t, pool, acct, big, small, filter)

	before := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, stats := range []string{"no statistics", "analyzed"} {
		if stats == "analyzed" {
			if _, err := pool.Exec(ctx, `ANALYZE lead_views`); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			for basis, index := range map[string]string{domain.RetentionFromCreated: "lead_views_retention_created",
				domain.RetentionFromUpdated: "lead_views_retention_updated"} {
				plan := explainPlan(t, pool, mode, leads.ExpiredLeadsSQL(basis), []any{big, before, 100})
				if err := expiredLeadsScan(plan, index); err != nil {
					t.Errorf("%s, %s, %s: %v\nplan: %s", stats, mode, basis, err, plan)
				}
			}
		}
	}
}

// expiredLeadsScan checks that plan is a limit over one forward scan of
// index, plain or index-only, bounded by the campaign and the moment.
func expiredLeadsScan(plan, index string) error {
	nodes, err := testenv.PlanNodes(plan)
	if err != nil {
		return err
	}
	var types []string
	for _, n := range nodes {
		types = append(types, fmt.Sprint(n["Node Type"]))
	}
	if len(nodes) != 2 || types[0] != "Limit" || types[1] != "Index Scan" && types[1] != "Index Only Scan" {
		return fmt.Errorf("nodes %v, want a limit over one index scan", types)
	}
	scan := nodes[1]
	if got := fmt.Sprint(scan["Index Name"]); got != index {
		return fmt.Errorf("index %s, want %s", got, index)
	}
	if got := fmt.Sprint(scan["Scan Direction"]); got != "Forward" {
		return fmt.Errorf("scan direction %s, want Forward", got)
	}
	if cond := fmt.Sprint(scan["Index Cond"]); !strings.Contains(cond, "campaign_id = ") || !strings.Contains(cond, "_at < ") {
		return fmt.Errorf("index condition %s is not bounded by the campaign and the moment", cond)
	}
	return nil
}

// TestExpiredLeadsAreTheLiveOnesBeforeTheCutoff reads the retention
// job's page: the campaign's leads before the moment, oldest first, none
// erased, none of another campaign, at most the limit.
func TestExpiredLeadsAreTheLiveOnesBeforeTheCutoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, pool, acct := e.ctx, e.pool, e.account
	camp, other := uuid.New(), uuid.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []uuid.UUID
	for i := range 5 {
		id := uuid.New()
		ids = append(ids, id)
		// created i days after t0, changed 10 days later than created
		for _, c := range []uuid.UUID{camp, other} {
			lid := id
			if c == other {
				lid = uuid.New()
			}
			if _, err := pool.Exec(ctx, `INSERT INTO lead_views (id, account_id, campaign_id, status, fields, files, version, created_at, updated_at)
				VALUES ($1, $2, $3, 'new', '{}', '[]', 1, $4, $5)`, lid, acct, c, t0.AddDate(0, 0, i), t0.AddDate(0, 0, i+10)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE lead_views SET erased_at = now() WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	r := leads.NewReader(pool, nil)
	for _, c := range []struct {
		basis  string
		before time.Time
		limit  int
		want   []uuid.UUID
	}{
		{domain.RetentionFromCreated, t0.AddDate(0, 0, 3), 100, []uuid.UUID{ids[0], ids[2]}},
		{domain.RetentionFromCreated, t0.AddDate(0, 0, 5), 2, []uuid.UUID{ids[0], ids[2]}},
		{domain.RetentionFromUpdated, t0.AddDate(0, 0, 3), 100, nil},
		{domain.RetentionFromUpdated, t0.AddDate(0, 0, 14), 100, []uuid.UUID{ids[0], ids[2], ids[3]}},
	} {
		got, err := r.ExpiredLeads(ctx, camp, c.basis, c.before, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s before %s limit %d: %v, want %v", c.basis, c.before, c.limit, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%s before %s limit %d: %v, want %v", c.basis, c.before, c.limit, got, c.want)
			}
		}
	}
}
