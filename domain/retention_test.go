package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

func TestRetentionValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r     domain.Retention
		field string // "" when valid
		code  string
		want  time.Duration
	}{
		{domain.Retention{EraseAfter: "730d", CountedFrom: "created"}, "", "", 730 * 24 * time.Hour},
		{domain.Retention{EraseAfter: "48h", CountedFrom: "updated"}, "", "", 48 * time.Hour},
		{domain.Retention{EraseAfter: "36500d", CountedFrom: "created"}, "", "", 36500 * 24 * time.Hour},
		{domain.Retention{EraseAfter: "0d", CountedFrom: "created"}, "erase_after", domain.CodeInvalidValue, 0},
		{domain.Retention{EraseAfter: "36501d", CountedFrom: "created"}, "erase_after", domain.CodeInvalidValue, 0},
		{domain.Retention{EraseAfter: "876001h", CountedFrom: "created"}, "erase_after", domain.CodeInvalidValue, 0},
		{domain.Retention{EraseAfter: "99999999999999999999h", CountedFrom: "created"}, "erase_after", domain.CodeInvalidValue, 0},
		{domain.Retention{EraseAfter: "730", CountedFrom: "created"}, "erase_after", domain.CodeInvalidFormat, 0},
		{domain.Retention{EraseAfter: "d", CountedFrom: "created"}, "erase_after", domain.CodeInvalidFormat, 0},
		{domain.Retention{EraseAfter: "-1d", CountedFrom: "created"}, "erase_after", domain.CodeInvalidFormat, 0},
		{domain.Retention{EraseAfter: "1.5d", CountedFrom: "created"}, "erase_after", domain.CodeInvalidFormat, 0},
		{domain.Retention{EraseAfter: "2y", CountedFrom: "created"}, "erase_after", domain.CodeInvalidFormat, 0},
		{domain.Retention{EraseAfter: "30d", CountedFrom: "seen"}, "counted_from", domain.CodeInvalidValue, 0},
	} {
		err := tc.r.Validate()
		if tc.field == "" {
			if err != nil || tc.r.Period() != tc.want {
				t.Errorf("given %+v, then %v and period %v, want valid and %v", tc.r, err, tc.r.Period(), tc.want)
			}
			continue
		}
		var verr *domain.ValidationError
		if !errors.As(err, &verr) || len(verr.Errors) != 1 || verr.Errors[0].Field != tc.field || verr.Errors[0].Code != tc.code {
			t.Errorf("given %+v, then %v, want one %s error on %s", tc.r, err, tc.code, tc.field)
		}
	}
}

func TestSetRetention(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := domain.FoldCampaign([]domain.Event{domain.CampaignCreated{CampaignID: uuid.New(), AccountID: uuid.New(), Name: "C",
		Statuses: []domain.Status{{Slug: "new", Label: "New"}}, At: at}})
	policy := &domain.Retention{EraseAfter: "730d", CountedFrom: "created"}
	events, err := c.SetRetention(policy, at)
	if err != nil || len(events) != 1 {
		t.Fatalf("when a policy is set, then %v, %v; want one event", events, err)
	}
	c = domain.Fold(c, events)
	if c.Retention == nil || *c.Retention != *policy || c.Version != 2 {
		t.Fatalf("then the campaign has %+v at version %d", c.Retention, c.Version)
	}
	if events, err := c.SetRetention(&domain.Retention{EraseAfter: "730d", CountedFrom: "created"}, at); err != nil || events != nil {
		t.Fatalf("when the same policy is set again, then %v, %v; want nothing", events, err)
	}
	if _, err := c.SetRetention(&domain.Retention{EraseAfter: "0h", CountedFrom: "created"}, at); err == nil {
		t.Fatal("when an invalid policy is set, then no error")
	}
	events, err = c.SetRetention(nil, at)
	if err != nil || len(events) != 1 || events[0].(domain.CampaignRetentionChanged).Retention != nil {
		t.Fatalf("when the policy is removed, then %v, %v", events, err)
	}
	if c = domain.Fold(c, events); c.Retention != nil {
		t.Fatalf("then the campaign still has %+v", c.Retention)
	}
	if events, err := c.SetRetention(nil, at); err != nil || events != nil {
		t.Fatalf("when no policy is removed, then %v, %v; want nothing", events, err)
	}
}

func TestEraseExpired(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	changed := created.Add(100 * 24 * time.Hour)
	l := domain.FoldLead([]domain.Event{
		domain.LeadCreated{LeadID: uuid.New(), CampaignID: uuid.New(), AccountID: uuid.New(), Status: "new",
			Fields: domain.Fields{"name": "Ada"}, At: created},
		domain.LeadUpdated{Fields: domain.Fields{"name": "Ada B"}, At: changed},
	})
	s := domain.Schema{Fields: []domain.Field{{Key: "name", Label: "Name", Type: domain.TypeText}}}
	byCreation := domain.Retention{EraseAfter: "30d", CountedFrom: "created"}
	byChange := domain.Retention{EraseAfter: "30d", CountedFrom: "updated"}
	for _, tc := range []struct {
		name    string
		r       domain.Retention
		now     time.Time
		wantErr error
	}{
		{"created, before the period ends", byCreation, created.Add(30*24*time.Hour - time.Second), domain.ErrRetentionNotDue},
		{"created, once it ended", byCreation, created.Add(30*24*time.Hour + time.Second), nil},
		{"updated, past creation but not the change", byChange, created.Add(31 * 24 * time.Hour), domain.ErrRetentionNotDue},
		{"updated, past the change", byChange, changed.Add(31 * 24 * time.Hour), nil},
	} {
		e, err := l.EraseExpired(tc.r, s, tc.now)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && (e.Reason != tc.r.Reason() || e.Actor != "" || len(e.Fields) != 1) {
			t.Errorf("%s: %+v, want the policy as the reason, no actor, the name erased", tc.name, e)
		}
	}
	erased := domain.Fold(l, []domain.Event{domain.LeadErased{LeadID: l.ID, Reason: "r", At: changed}})
	if _, err := erased.EraseExpired(byCreation, s, changed.Add(365*24*time.Hour)); !errors.Is(err, domain.ErrLeadErased) {
		t.Fatalf("an erased lead: %v, want ErrLeadErased", err)
	}
}
