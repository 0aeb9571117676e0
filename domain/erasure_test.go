package domain_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

func TestPersonalDefaults(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	want := map[string]bool{"name": true, "notes": true, "email": true, "phone": true, "site": true,
		"budget": false, "consent": false, "callback_on": false, "seen_at": false, "source": false, "interests": false, "parent": false}
	for _, f := range s.Fields {
		if got := f.IsPersonal(); got != want[f.Key] {
			t.Errorf("given a %s field with no flag, then personal = %v, want %v", f.Type, got, want[f.Key])
		}
	}
	t.Run("a field recorded before the flag decodes to its type's default", func(t *testing.T) {
		var f domain.Field
		if err := json.Unmarshal([]byte(`{"key":"email","label":"Email","type":"email","required":false}`), &f); err != nil {
			t.Fatal(err)
		}
		if !f.IsPersonal() {
			t.Fatal("an old email field is not personal")
		}
	})
	t.Run("an admin's flag wins over the default, and changing it is an event", func(t *testing.T) {
		c := created(t)
		no := false
		events, err := c.ChangeField("email", domain.FieldChange{Personal: &no}, t1)
		if err != nil || len(events) != 1 {
			t.Fatalf("ChangeField: %v %v", events, err)
		}
		fc := events[0].(domain.FieldChanged)
		if fc.Personal == nil || *fc.Personal {
			t.Fatalf("field_changed carries personal %v", fc.Personal)
		}
		c = c.Evolve(events[0])
		f, _ := c.Schema.Field("email")
		if f.IsPersonal() {
			t.Fatal("email still personal after the change")
		}
		// The same flag again is no change.
		if again, err := c.ChangeField("email", domain.FieldChange{Personal: &no}, t1); err != nil || len(again) != 0 {
			t.Fatalf("same flag again: %v %v", again, err)
		}
		// A field_changed recorded before the flag keeps it.
		c2 := created(t).Evolve(domain.FieldChanged{CampaignID: campID, Key: "email", Label: "E-mail", Position: 7, At: t1})
		if f, _ := c2.Schema.Field("email"); !f.IsPersonal() {
			t.Fatal("an old field_changed without personal changed the flag")
		}
	})
}

func erasableLead(t *testing.T) domain.Lead {
	t.Helper()
	return domain.FoldLead([]domain.Event{
		domain.LeadCreated{LeadID: leadID, CampaignID: campID, AccountID: acct, Status: "new",
			Fields: domain.Fields{"name": "Ada Lovelace", "email": "ada@example.com", "source": "website", "budget": 1200.0}, At: t0},
		domain.FileAttached{LeadID: leadID, File: domain.FileMeta{Name: "ada-passport.pdf", ContentType: "application/pdf", Size: 3, SHA256: "abc"}, At: t0},
	})
}

func TestEraseLead(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	l := erasableLead(t)
	t.Run("given a lead, when erased, then only personal keys are named", func(t *testing.T) {
		e, err := l.Erase("the person asked", "tok", s, t1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.Fields, []string{"email", "name"}) || e.Reason != "the person asked" || !e.At.Equal(t1) {
			t.Fatalf("event %+v", e)
		}
		after := l.Evolve(e)
		if !after.Erased() || after.Fields["name"] != nil || after.Fields["email"] != nil || len(after.Files) != 0 {
			t.Fatalf("folded %+v", after)
		}
		if after.Fields["source"] != "website" || after.Fields["budget"] != 1200.0 || after.Status != "new" || after.Version != 3 {
			t.Fatalf("non-personal values lost: %+v", after)
		}
		t.Run("then every further decision is refused as erased", func(t *testing.T) {
			_, err := after.Erase("again", "tok", s, t1)
			var ee *domain.LeadErasedError
			if !errors.As(err, &ee) || !ee.At.Equal(t1) || !errors.Is(err, domain.ErrLeadErased) {
				t.Fatalf("erase twice: %v", err)
			}
			if _, err := after.Update(map[string]any{"name": "x"}, "", s, t1); !errors.Is(err, domain.ErrLeadErased) {
				t.Fatalf("update: %v", err)
			}
			if _, err := after.AttachFile(domain.FileMeta{Name: "a", ContentType: "text/plain"}, t1); !errors.Is(err, domain.ErrLeadErased) {
				t.Fatalf("attach: %v", err)
			}
		})
	})
	t.Run("a reason is required and bounded", func(t *testing.T) {
		_, err := l.Erase("", "tok", s, t1)
		wantCode(t, err, "reason", domain.CodeRequired)
		_, err = l.Erase(strings.Repeat("x", domain.MaxEraseReason+1), "tok", s, t1)
		wantCode(t, err, "reason", domain.CodeInvalidValue)
	})
	t.Run("a lead that does not exist is not found", func(t *testing.T) {
		if _, err := (domain.Lead{}).Erase("why", "tok", s, t1); !errors.Is(err, domain.ErrLeadNotFound) {
			t.Fatal(err)
		}
	})
	t.Run("folding lead.erased removes the named keys even from values the scrub never saw", func(t *testing.T) {
		after := l.Evolve(domain.LeadErased{LeadID: leadID, Fields: []string{"name"}, At: t1})
		if _, ok := after.Fields["name"]; ok || after.Fields["email"] != "ada@example.com" {
			t.Fatalf("fields %v", after.Fields)
		}
	})
}

func TestScrubLeadEvent(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		name, typ, in string
		changed       bool
		gone, kept    []string
	}{
		{"created: personal values replaced, choices kept", "lead.created",
			`{"lead_id":"x","status":"new","fields":{"name":"Ada","email":"ada@example.com","source":"website","budget":12,"gone_field":"secret"}}`,
			true, []string{"Ada", "ada@example.com", "secret"}, []string{`"source":"website"`, `"budget":12`, `"status":"new"`}},
		{"updated: a cleared value stays null", "lead.updated", `{"fields":{"phone":null,"notes":"call at 5"},"status_to":"won"}`,
			true, []string{"call at 5"}, []string{`"phone":null`, `"status_to":"won"`}},
		{"file: name and digest replaced, type and size kept", "lead.file_attached",
			`{"file":{"id":"f","name":"ada.pdf","content_type":"application/pdf","size":3,"sha256":"abc"}}`,
			true, []string{"ada.pdf", "abc"}, []string{`"content_type":"application/pdf"`, `"size":3`}},
		{"status only: nothing to erase", "lead.updated", `{"status_from":"new","status_to":"won"}`, false, nil, []string{`"status_to":"won"`}},
		{"other events untouched", "lead.file_removed", `{"file_id":"f"}`, false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := domain.ScrubLeadEvent(tc.typ, json.RawMessage(tc.in), s)
			if err != nil || changed != tc.changed {
				t.Fatalf("changed %v, err %v", changed, err)
			}
			for _, g := range tc.gone {
				if strings.Contains(string(out), g) {
					t.Errorf("%s still in %s", g, out)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(string(out), k) {
					t.Errorf("%s lost from %s", k, out)
				}
			}
			if changed && !strings.Contains(string(out), `"`+domain.ErasedMarker+`"`) {
				t.Errorf("no marker in %s", out)
			}
			again, changedAgain, err := domain.ScrubLeadEvent(tc.typ, out, s)
			if err != nil || changedAgain || string(again) != string(out) {
				t.Errorf("scrubbing twice changed it: %s", again)
			}
		})
	}
}
