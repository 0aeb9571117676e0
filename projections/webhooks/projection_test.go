package webhooks_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/webhooks"
)

// TestApplyRecordsALeadInVersionOrderWhateverTheDeliveryOrder gives the
// projection a lead's events out of order and repeated, as several
// consumers and redeliveries can: the messages are recorded once each,
// in version order, with the scope decided at each version.
func TestApplyRecordsALeadInVersionOrderWhateverTheDeliveryOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{bare: true})
	abc := e.filter(domain.Condition{Field: "source", Op: domain.OpEq, Value: "abc"})
	all := e.subscribe("http://127.0.0.1:1/all", nil)
	scoped := e.subscribe("http://127.0.0.1:1/scoped", &abc)
	lead := e.lead(map[string]any{"name": "Ada", "source": "abc"}) // v1 in
	e.update(lead, map[string]any{"budget": 1})                    // v2 in
	e.update(lead, map[string]any{"source": "web"})                // v3 leaves
	e.update(lead, map[string]any{"source": "abc"})                // v4 enters again
	recs, err := e.store.ReadStream(e.ctx, domain.LeadStream(lead), eventstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(v int) projections.Event {
		r := recs[v-1]
		return projections.Event{Position: r.Position, StreamID: r.StreamID, StreamVersion: r.StreamVersion, EventID: r.EventID,
			Type: r.Type, AccountID: r.AccountID, CampaignID: r.CampaignID, RecordedAt: r.RecordedAt, Data: r.Data, Event: r.Event}
	}
	p := webhooks.New(eventlog.New(e.store), views.Of(e.store))
	for _, batch := range [][]projections.Event{{ev(3)}, {ev(1), ev(2)}, {ev(4), ev(2)}, {ev(3), ev(1)}} {
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return p.Apply(e.ctx, tx, batch) }); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	got := func(hook fmt.Stringer) []string {
		rows, err := e.pool.Query(e.ctx, `SELECT event_type, lead_version FROM webhook_messages WHERE webhook_id = $1::uuid ORDER BY id`,
			hook.String())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var typ string
			var v int64
			if err := rows.Scan(&typ, &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s v%d", typ, v))
		}
		return out
	}
	if g, want := got(all.Webhook.ID), []string{"lead.created v1", "lead.updated v2", "lead.updated v3", "lead.updated v4"}; !slices.Equal(g, want) {
		t.Errorf("unfiltered: %v, want %v", g, want)
	}
	if g, want := got(scoped.Webhook.ID), []string{"lead.created v1", "lead.updated v2", "lead.left_scope v3", "lead.updated v4"}; !slices.Equal(g, want) {
		t.Errorf("filtered: %v, want %v", g, want)
	}
}
