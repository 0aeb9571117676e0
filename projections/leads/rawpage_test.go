package leads_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestARawPageIsExactOnlyAtTheFiltersVersion: a filter's page may skip
// the re-check only when the view was evaluated at the version of the
// filter the caller holds; while the projection lags behind a change, it
// may not.
func TestARawPageIsExactOnlyAtTheFiltersVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	stop := e.startRunner(nil)
	camp := e.campaign()
	var all []domain.Lead
	for i := range 6 {
		all = append(all, e.lead(camp.ID, "", map[string]any{"name": fmt.Sprint(i), "source": []string{"abc", "xyz"}[i%2], "budget": i * 100}))
	}
	f := e.filter(camp.ID, eq("source", "abc"))
	e.waitMembers(f.ID, ids(all[0], all[2], all[4]))

	list := func(version int64, filter *uuid.UUID) leads.RawPage {
		t.Helper()
		p, err := e.reader.ListRaw(e.ctx, leads.Query{AccountID: e.account, CampaignID: &camp.ID, FilterID: filter, Limit: 50}, version)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Lead events applied after the filter was written may fill its view
	// before the filter's own event is applied: exact only after that.
	testenv.CheckFor(t, 20*time.Second, func() error {
		if p := list(f.Version, &f.ID); !p.Exact || len(p.Leads) != 3 {
			return fmt.Errorf("at the filter's version: exact %v, %d leads; want exact, 3", p.Exact, len(p.Leads))
		}
		return nil
	})
	if p := list(f.Version+1, &f.ID); p.Exact {
		t.Error("at a version the view has not reached: exact")
	}
	if p := list(0, &f.ID); p.Exact {
		t.Error("without a version: exact")
	}
	if p := list(f.Version, nil); p.Exact || len(p.Leads) != 6 {
		t.Errorf("a campaign's page: exact %v, %d leads; want not exact (nothing to be exact about), 6", p.Exact, len(p.Leads))
	}

	// The projection stops; the filter narrows on the write side.
	stop()
	res, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: f.ID, Name: "f",
		Conditions: []domain.Condition{eq("source", "abc"), {Field: "budget", Op: domain.OpGt, Value: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := list(res.Filter.Version, &f.ID); p.Exact || len(p.Leads) != 3 {
		t.Errorf("before the change is projected: exact %v, %d leads; want not exact, the 3 of the old filter", p.Exact, len(p.Leads))
	}
	e.startRunner(nil)
	testenv.CheckFor(t, 20*time.Second, func() error {
		if p := list(res.Filter.Version, &f.ID); !p.Exact || len(p.Leads) != 2 {
			return fmt.Errorf("once projected: exact %v, %d leads; want exact, 2", p.Exact, len(p.Leads))
		}
		return nil
	})
}

// TestWaitForABatchWaitsForEveryLeadOfIt: a batch create answers one
// position, and the projection may apply its leads in different
// transactions; reading with that position must find every lead of it.
func TestWaitForABatchWaitsForEveryLeadOfIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	res, err := e.c.CreateLeads.Handle(e.ctx, commands.CreateLeads{AccountID: e.account, Leads: []commands.NewLead{
		{CampaignID: camp.ID, Fields: map[string]any{"name": "first", "source": "abc"}},
		{CampaignID: camp.ID, Fields: map[string]any{"name": "second", "source": "abc"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// The log is read below the oldest running transaction of the
	// server, which other tests' transactions may hold back a moment.
	var batch []projections.Event
	testenv.CheckFor(t, 20*time.Second, func() error {
		events, err := eventlog.New(e.store).ReadAll(e.ctx, projections.Cursor{}, 1000)
		if err != nil {
			return err
		}
		batch = batch[:0]
		for _, ev := range events {
			if strings.HasPrefix(ev.StreamID, "lead-") {
				batch = append(batch, ev)
			}
		}
		if len(batch) != 2 {
			return fmt.Errorf("the batch's events: %d readable, want 2", len(batch))
		}
		return nil
	})
	if batch[1].Position != res.Position {
		t.Fatalf("the batch's last event is at %d, want the answered %d", batch[1].Position, res.Position)
	}
	p := leads.New(eventlog.New(e.store), domain.NewRegistry(), views.Of(e.store))
	apply := func(ev projections.Event) {
		t.Helper()
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return p.Apply(e.ctx, tx, []projections.Event{ev}) }); err != nil {
			t.Fatal(err)
		}
	}
	wait := func() bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
		defer cancel()
		ok, err := e.reader.WaitFor(ctx, res.Position)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	apply(batch[1]) // the lead at the answered position, alone
	if wait() {
		t.Fatal("WaitFor reported the batch visible with its first lead not yet applied")
	}
	apply(batch[0])
	if !wait() {
		t.Fatal("WaitFor did not report the batch visible with both leads applied")
	}
}
