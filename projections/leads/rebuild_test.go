package leads_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestRebuildSwapsInWhileWritesGoOn rebuilds the views while a writer
// keeps changing leads and the live consumer keeps applying: the swapped
// in tables converge to the log, and verify finds nothing.
func TestRebuildSwapsInWhileWritesGoOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	e.filter(camp.ID, eq("source", "abc"))
	e.filter(camp.ID, domain.Condition{Field: "budget", Op: domain.OpGt, Value: 50})
	var ls []domain.Lead
	for i := range 30 {
		ls = append(ls, e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint(i), "source": []string{"abc", "xyz"}[i%2], "budget": i * 5}))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			e.updateLead(ls[i%len(ls)].ID, "", map[string]any{"budget": i % 100, "source": []string{"abc", "xyz", "web"}[i%3]})
		}
	}()
	migrated := e.indexDefinitions()
	p := leads.New(eventlog.New(e.store), domain.NewRegistry(), views.Of(e.store))
	var phases []string
	rep, err := p.Rebuild(e.ctx, e.pool, func(pr projections.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
	})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	// The snapshot ends below the oldest transaction running in the
	// database (another test's, maybe): later leads come with the tail or
	// the live consumer, which waitConverged and Verify check.
	if rep.Leads > len(ls) {
		t.Fatalf("Rebuild = %+v, want up to %d leads", rep, len(ls))
	}
	if got := strings.Join(phases, ","); got != "reading log,writing rows,memberships,indexing,built" {
		t.Fatalf("progress phases = %s", got)
	}
	e.waitConverged()
	vr, err := p.Verify(e.ctx, e.pool, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(vr.Differences) != 0 {
		t.Fatalf("Verify after rebuild found %v", vr.Differences)
	}
	// The swapped-in tables have exactly the indexes the migrations made.
	if got := e.indexDefinitions(); got != migrated {
		t.Fatalf("indexes after the swap:\n%s\nwant those the migrations made:\n%s", got, migrated)
	}
}

// indexDefinitions lists the read model's indexes, one definition a line.
func (e *env) indexDefinitions() string {
	e.t.Helper()
	var defs []string
	rows, err := e.pool.Query(e.ctx, `SELECT replace(indexdef, current_schema() || '.', '') FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename IN ('lead_views', 'filter_members', 'filter_views') ORDER BY indexname`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			e.t.Fatal(err)
		}
		defs = append(defs, d)
	}
	if len(defs) < 7 {
		e.t.Fatalf("the read model has %d indexes: %v", len(defs), defs)
	}
	return strings.Join(defs, "\n")
}

// TestVerifyFindsRowsEditedByHand edits a lead row, deletes a membership
// row and edits another's copy of its lead with SQL: verify names all
// three, and a clean view has none.
func TestVerifyFindsRowsEditedByHand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	f := e.filter(camp.ID, eq("source", "abc"))
	a := e.lead(camp.ID, "", map[string]any{"name": "A", "source": "abc"})
	b := e.lead(camp.ID, "", map[string]any{"name": "B", "source": "abc"})
	c := e.lead(camp.ID, "", map[string]any{"name": "C", "source": "abc"})
	e.waitMembers(f.ID, ids(a, b, c))
	p := leads.New(eventlog.New(e.store), domain.NewRegistry(), views.Of(e.store))
	clean, err := p.Verify(e.ctx, e.pool, 10*time.Second, nil)
	if err != nil || len(clean.Differences) != 0 {
		t.Fatalf("Verify of untouched views = %v, %v; want no differences", clean.Differences, err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE lead_views SET fields = jsonb_set(fields, '{name}', '"Mallory"') WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `DELETE FROM filter_members WHERE lead_id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE filter_members SET status = 'won' WHERE lead_id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := p.Verify(e.ctx, e.pool, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Differences {
		got = append(got, d.Table+": "+d.Key+": "+d.Problem)
	}
	want := []string{
		"lead_views: " + a.ID.String() + ": differs in fields",
		"filter_members: filter " + f.ID.String() + " lead " + b.ID.String() + ": matches the filter but is missing from its live view",
		"filter_members: filter " + f.ID.String() + " lead " + c.ID.String() + ": live membership holds another copy of the lead than the log",
	}
	slices.Sort(want[1:])
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Verify differences =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
