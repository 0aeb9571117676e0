package domain_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// TestSchemaChangeDecisions: given the campaign, when a schema change is
// decided, then its event or the error; applying the event gives the
// schema the change asked for.
func TestSchemaChangeDecisions(t *testing.T) {
	t.Parallel()
	c := created(t)
	for _, tc := range []struct {
		name    string
		when    func(domain.Campaign) ([]domain.Event, error)
		want    []domain.Event
		wantErr error
		field   string // with code: a validation error on field
		code    string
		then    func(t *testing.T, s domain.Schema)
	}{
		{name: "rename an option", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "partner-abc", domain.OptionChange{Label: ptr("Partner ABC Ltd")}, t0)
		}, want: []domain.Event{domain.SelectOptionChanged{CampaignID: campID, Select: "source", Value: "partner-abc", Label: "Partner ABC Ltd", At: t0}},
			then: func(t *testing.T, s domain.Schema) {
				if sl, _ := s.Select("source"); sl.Options[1].Label != "Partner ABC Ltd" || sl.Options[1].Value != "partner-abc" {
					t.Fatalf("options %+v", sl.Options)
				}
			}},
		{name: "retire an option", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "website", domain.OptionChange{Retired: ptr(true)}, t0)
		}, want: []domain.Event{domain.SelectOptionChanged{CampaignID: campID, Select: "source", Value: "website", Label: "Website", Retired: true, At: t0}},
			then: func(t *testing.T, s domain.Schema) {
				if !s.OptionRetired("source", "website") || !s.HasOption("source", "website") {
					t.Fatal("a retired option must stay an option, marked retired")
				}
			}},
		{name: "the same label is no change", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "website", domain.OptionChange{Label: ptr("Website"), Retired: ptr(false)}, t0)
		}},
		{name: "an unknown option", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "nope", domain.OptionChange{Label: ptr("x")}, t0)
		}, wantErr: domain.ErrSchemaItemNotFound},
		{name: "an unknown select", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("nope", "website", domain.OptionChange{Label: ptr("x")}, t0)
		}, wantErr: domain.ErrSchemaItemNotFound},
		{name: "an empty label", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "website", domain.OptionChange{Label: ptr("")}, t0)
		}, field: "label", code: domain.CodeRequired},
		{name: "move a field first and relabel it", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("budget", domain.FieldChange{Label: ptr("Budget (EUR)"), Position: ptr(1), Required: ptr(true)}, t0)
		}, want: []domain.Event{domain.FieldChanged{CampaignID: campID, Key: "budget", Label: "Budget (EUR)", Required: true, Position: 1, At: t0}},
			then: func(t *testing.T, s domain.Schema) {
				if f := s.Fields[0]; f.Key != "budget" || f.Label != "Budget (EUR)" || !f.Required || f.Type != domain.TypeNumber || s.Fields[1].Key != "name" {
					t.Fatalf("fields %+v", s.Fields[:3])
				}
			}},
		{name: "retire a required field", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("name", domain.FieldChange{Retired: ptr(true)}, t0)
		}, field: "required", code: domain.CodeInvalidValue},
		{name: "retire a field no longer required", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("name", domain.FieldChange{Retired: ptr(true), Required: ptr(false)}, t0)
		}, want: []domain.Event{domain.FieldChanged{CampaignID: campID, Key: "name", Label: "Name", Retired: true, Position: 1, At: t0}}},
		{name: "a field position out of range", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("name", domain.FieldChange{Position: ptr(13)}, t0)
		}, field: "position", code: domain.CodeInvalidValue},
		{name: "an unknown field", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("nope", domain.FieldChange{Label: ptr("x")}, t0)
		}, wantErr: domain.ErrSchemaItemNotFound},
		{name: "rename, move and retire a status", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeStatus("new", domain.StatusChange{Label: ptr("Fresh"), Retired: ptr(true), Position: ptr(3)}, t0)
		}, want: []domain.Event{domain.StatusDefinitionChanged{CampaignID: campID, Slug: "new", Label: "Fresh", Retired: true, Position: 3, At: t0}},
			then: func(t *testing.T, s domain.Schema) {
				got := []string{s.Statuses[0].Slug, s.Statuses[1].Slug, s.Statuses[2].Slug}
				if !slices.Equal(got, []string{"won", "lost", "new"}) || s.DefaultStatus() != "won" || !s.StatusRetired("new") {
					t.Fatalf("statuses %+v, default %q", s.Statuses, s.DefaultStatus())
				}
			}},
		{name: "an unknown status", when: func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeStatus("nope", domain.StatusChange{Label: ptr("x")}, t0)
		}, wantErr: domain.ErrSchemaItemNotFound},
		{name: "a campaign that does not exist", when: func(domain.Campaign) ([]domain.Event, error) {
			return domain.Campaign{}.ChangeStatus("new", domain.StatusChange{Label: ptr("x")}, t0)
		}, wantErr: domain.ErrCampaignNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.when(c)
			switch {
			case tc.code != "":
				wantCode(t, err, tc.field, tc.code)
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if !eventsEqual(got, tc.want) {
				t.Fatalf("events = %#v, want %#v", got, tc.want)
			}
			if tc.then != nil {
				next := domain.Fold(c, got)
				if next.Version != c.Version+1 || !next.UpdatedAt.Equal(t0) {
					t.Fatalf("version %d, updated %v", next.Version, next.UpdatedAt)
				}
				tc.then(t, next.Schema)
			}
		})
	}
}

func eventsEqual(a, b []domain.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTheLastActiveStatusCannotRetire(t *testing.T) {
	t.Parallel()
	c := created(t)
	for _, slug := range []string{"new", "won"} {
		events, err := c.ChangeStatus(slug, domain.StatusChange{Retired: ptr(true)}, t0)
		if err != nil {
			t.Fatalf("retire %s: %v", slug, err)
		}
		c = domain.Fold(c, events)
	}
	_, err := c.ChangeStatus("lost", domain.StatusChange{Retired: ptr(true)}, t0)
	wantCode(t, err, "retired", domain.CodeInvalidValue)
	if c.Schema.DefaultStatus() != "lost" {
		t.Fatalf("default status %q, want the only active one", c.Schema.DefaultStatus())
	}
	all := fullSchema()
	for i := range all.Statuses {
		all.Statuses[i].Retired = true
	}
	_, err = domain.CreateCampaign(campID, acct, "x", all, t0)
	wantCode(t, err, "statuses", domain.CodeInvalidValue)
}

// TestRetiredItemsRefuseNewWritesAndStayOnLeads: a lead that has a retired
// option, status or field value keeps it through updates that do not
// touch it, and an update that sends it unchanged; writing it anew is a
// 422 naming it.
func TestRetiredItemsRefuseNewWritesAndStayOnLeads(t *testing.T) {
	t.Parallel()
	c := created(t)
	leadID := uuid.New()
	events, err := domain.CreateLead(leadID, campID, acct, "won", map[string]any{"name": "Ada", "source": "partner-abc",
		"interests": []any{"solar"}, "budget": 10.0}, c.Schema, t0)
	if err != nil {
		t.Fatal(err)
	}
	lead := domain.FoldLead(events)
	for _, change := range []func(domain.Campaign) ([]domain.Event, error){
		func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("source", "partner-abc", domain.OptionChange{Retired: ptr(true)}, t0)
		},
		func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeOption("interests", "solar", domain.OptionChange{Retired: ptr(true)}, t0)
		},
		func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeStatus("won", domain.StatusChange{Retired: ptr(true)}, t0)
		},
		func(c domain.Campaign) ([]domain.Event, error) {
			return c.ChangeField("budget", domain.FieldChange{Retired: ptr(true)}, t0)
		},
	} {
		ev, err := change(c)
		if err != nil {
			t.Fatal(err)
		}
		c = domain.Fold(c, ev)
	}
	s := c.Schema

	// Kept: an update elsewhere, and the same values sent again.
	ev, err := lead.Update(map[string]any{"name": "Ada L.", "source": "partner-abc", "interests": []any{"solar", "battery"},
		"budget": 10.0}, "won", s, t0)
	if err != nil {
		t.Fatalf("an update keeping retired values: %v", err)
	}
	lead = domain.Fold(lead, ev)
	if lead.Fields["source"] != "partner-abc" || lead.Status != "won" || lead.Fields["budget"] != 10.0 {
		t.Fatalf("lead %+v", lead)
	}
	// Refused: each retired item written anew.
	_, err = domain.CreateLead(uuid.New(), campID, acct, "", map[string]any{"name": "Bo", "source": "partner-abc"}, s, t0)
	wantCode(t, err, "fields.source", domain.CodeRetired)
	_, err = domain.CreateLead(uuid.New(), campID, acct, "won", map[string]any{"name": "Bo"}, s, t0)
	wantCode(t, err, "status", domain.CodeRetired)
	_, err = domain.CreateLead(uuid.New(), campID, acct, "", map[string]any{"name": "Bo", "budget": 5}, s, t0)
	wantCode(t, err, "fields.budget", domain.CodeRetired)
	_, err = domain.CreateLead(uuid.New(), campID, acct, "", map[string]any{"name": "Bo", "interests": []any{"battery", "solar"}}, s, t0)
	wantCode(t, err, "fields.interests", domain.CodeRetired)
	_, err = lead.Update(map[string]any{"budget": 11}, "", s, t0)
	wantCode(t, err, "fields.budget", domain.CodeRetired)
	other, _ := domain.CreateLead(uuid.New(), campID, acct, "", map[string]any{"name": "Cy", "source": "website"}, s, t0)
	otherLead := domain.FoldLead(other)
	if otherLead.Status != "new" {
		t.Fatalf("a new lead's status %q, want the first active", otherLead.Status)
	}
	_, err = otherLead.Update(map[string]any{"source": "partner-abc"}, "", s, t0)
	wantCode(t, err, "fields.source", domain.CodeRetired)
	_, err = otherLead.Update(nil, "won", s, t0)
	wantCode(t, err, "status", domain.CodeRetired)
	// Clearing a retired field's value is allowed: it removes data.
	if _, err := lead.Update(map[string]any{"budget": nil}, "", s, t0); err != nil {
		t.Fatalf("clearing a retired field: %v", err)
	}
}

// A lead read back from the log holds a multiselect's value as JSON
// decodes it ([]any): a retired option it has is still its own, and the
// same values sent again are no new write.
func TestRetiredOptionsStayOnALeadReadFromTheLog(t *testing.T) {
	t.Parallel()
	c := created(t)
	events, err := domain.CreateLead(uuid.New(), campID, acct, "", map[string]any{"name": "Ada", "interests": []any{"solar"}}, c.Schema, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.ChangeOption("interests", "solar", domain.OptionChange{Retired: ptr(true)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	s := domain.Fold(c, ev).Schema
	lead := domain.FoldLead(events)
	lead.Fields = domain.Fields{"name": "Ada", "interests": []any{"solar"}} // as decoded from JSON

	if _, err := lead.Update(map[string]any{"interests": []any{"solar", "battery"}}, "", s, t0); err != nil {
		t.Fatalf("adding an option beside a retired one the lead has: %v", err)
	}
	if _, err := lead.Update(map[string]any{"interests": []any{"solar"}}, "", s, t0); err != nil {
		t.Fatalf("the same values sent again: %v", err)
	}
	if _, err := lead.Update(map[string]any{"interests": []any{"battery"}}, "", s, t0); err != nil {
		t.Fatalf("dropping the retired option: %v", err)
	}
}
