package audit_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// upcasting is the registry with an upcaster on lead.created that reads
// a stored source "web" as "abc", as a renamed option would; with every
// set, it claims to upcast every event without changing any.
type upcasting struct {
	*domain.Registry
	every bool
}

func (u upcasting) Decode(name string, data json.RawMessage) (domain.Event, error) {
	if name == "lead.created" && !u.every {
		// jsonb gives the stored JSON back with a space after colons.
		data = json.RawMessage(strings.ReplaceAll(string(data), `"source": "web"`, `"source": "abc"`))
	}
	return u.Registry.Decode(name, data)
}

func (u upcasting) Upcasts(name string) bool { return u.every || name == "lead.created" }

// TestAuditReadsApplyTheCodecsUpcasters: visible-at-T and a lead as it
// was see events as the codec decodes them, not as they are stored.
func TestAuditReadsApplyTheCodecsUpcasters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	abc := e.filter(camp, []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}}, nil)
	tok := e.token(&camp, &abc, domain.PermRead)
	lead := func(source string) uuid.UUID {
		res, err := e.cmd.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: camp,
			Fields: map[string]any{"name": "L", "source": source}, Meta: e.meta()})
		if err != nil {
			t.Fatal(err)
		}
		return res.Lead.ID
	}
	web, other := lead("web"), lead("abc")
	if _, err := e.cmd.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: other, Status: "won",
		Fields: map[string]any{"budget": 5}, Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}
	at := e.tick()
	reader := func(every bool) *audit.Reader {
		s := eventstore.New(e.pool, upcasting{Registry: domain.NewRegistry(), every: every})
		t.Cleanup(s.Close)
		return audit.New(audit.Config{Store: s, Clock: e.clock.now})
	}
	visible := func(r *audit.Reader) []uuid.UUID {
		t.Helper()
		v, err := r.VisibleLeads(e.ctx, e.account, tok.ID, at)
		if err != nil {
			t.Fatal(err)
		}
		return v.Data
	}
	if got, want := visible(e.audit), []uuid.UUID{other}; !slices.Equal(got, want) {
		t.Fatalf("stored: visible %v, want %v", got, want)
	}
	if got, want := visible(reader(true)), []uuid.UUID{other}; !slices.Equal(got, want) {
		t.Fatalf("folded from decoded events: visible %v, want %v as the stored values give", got, want)
	}
	want := []uuid.UUID{web, other}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return compareStrings(a.String(), b.String()) })
	upcast := reader(false)
	if got := visible(upcast); !slices.Equal(got, want) {
		t.Fatalf("upcast: visible %v, want %v", got, want)
	}
	st, err := upcast.LeadAt(e.ctx, e.account, web, time.Time{}, 0)
	if err != nil || st.Fields["source"] != "abc" {
		t.Fatalf("upcast LeadAt = %+v, %v; want source abc", st, err)
	}
}
