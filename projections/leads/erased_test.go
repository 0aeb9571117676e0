package leads_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestErasedLeadIsATombstoneFromTheStream: with no tombstone written in
// the erasure's transaction, lead.erased arriving through the stream
// turns the lead's row into one (410 on a read, in no list and no
// filter, personal values gone), repeats change nothing, and a rebuild
// from the scrubbed log verifies clean.
func TestErasedLeadIsATombstoneFromTheStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startNATS()
	e.startRunner(nil)
	camp := e.campaign()
	f := e.filter(camp.ID, eq("source", "abc"))
	ada := e.lead(camp.ID, "", map[string]any{"name": "Ada", "source": "abc", "budget": 10})
	bob := e.lead(camp.ID, "", map[string]any{"name": "Bob", "source": "abc"})
	e.updateLead(ada.ID, "won", map[string]any{"name": "Ada L."})
	e.waitMembers(f.ID, ids(ada, bob))

	res, err := e.c.EraseLead.Handle(e.ctx, commands.EraseLead{AccountID: e.account, LeadID: ada.ID, Reason: "asked"})
	if err != nil {
		t.Fatalf("EraseLead: %v", err)
	}
	e.waitMembers(f.ID, ids(bob))
	testenv.CheckFor(t, 20*time.Second, func() error {
		l, err := e.reader.Get(e.ctx, e.account, ada.ID, nil)
		if err != nil || !l.ErasedAt.Equal(res.ErasedAt) || l.Fields["name"] != nil {
			return fmt.Errorf("Get = %+v, %v; want the tombstone erased at %v", l, err, res.ErasedAt)
		}
		return nil
	})
	var fields string
	var status string
	if err := e.pool.QueryRow(e.ctx, `SELECT fields::text, status FROM lead_views WHERE id = $1`, ada.ID).Scan(&fields, &status); err != nil {
		t.Fatal(err)
	}
	if fields != `{"budget": 10, "source": "abc"}` || status != "won" {
		t.Fatalf("tombstone fields %s, status %s: want the non-personal values only", fields, status)
	}
	page, err := e.reader.List(e.ctx, leads.Query{AccountID: e.account, CampaignID: &camp.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Leads) != 1 || page.Leads[0].ID != bob.ID {
		t.Fatalf("list after erasure: %+v", page.Leads)
	}
	// A filter change re-evaluates the campaign: the tombstone stays out.
	e.updateFilter(f.ID, false, eq("status", "won"))
	e.waitMembers(f.ID, []uuid.UUID{})

	log := eventlog.New(e.store)
	p := leads.New(log, domain.NewRegistry(), views.Of(e.store))
	vr, err := p.Verify(e.ctx, e.pool, 10*time.Second, nil)
	if err != nil || len(vr.Differences) != 0 {
		t.Fatalf("Verify after erasure: %+v, %v", vr.Differences, err)
	}
}
