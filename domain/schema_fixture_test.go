package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

var (
	t0      = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	acct    = uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	campID  = uuid.MustParse("00000000-0000-0000-0000-00000000000c")
	otherID = uuid.MustParse("00000000-0000-0000-0000-0000000000cc")
)

// fullSchema uses every field type.
func fullSchema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "notes", Label: "Notes", Type: domain.TypeTextarea},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "consent", Label: "Consent", Type: domain.TypeBoolean},
			{Key: "callback_on", Label: "Call back on", Type: domain.TypeDate},
			{Key: "seen_at", Label: "Seen at", Type: domain.TypeDatetime},
			{Key: "email", Label: "Email", Type: domain.TypeEmail},
			{Key: "phone", Label: "Phone", Type: domain.TypePhone},
			{Key: "site", Label: "Site", Type: domain.TypeURL},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "interests", Label: "Interests", Type: domain.TypeMultiselect, Select: "interests"},
			{Key: "parent", Label: "Parent", Type: domain.TypeRelation, Campaign: &otherID},
		},
		Selects: []domain.Select{
			{Key: "source", Label: "Source", Options: []domain.Option{{Value: "website", Label: "Website"}, {Value: "partner-abc", Label: "Partner ABC"}}},
			{Key: "interests", Label: "Interests", Options: []domain.Option{{Value: "solar", Label: "Solar"}, {Value: "battery", Label: "Battery"}}},
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
}

// wantCode fails unless err is a *ValidationError with code on field.
func wantCode(t *testing.T, err error, field, code string) {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want %s on %s, got %v", code, field, err)
	}
	for _, fe := range v.Errors {
		if fe.Field == field && fe.Code == code {
			return
		}
	}
	t.Fatalf("want %s on %s, got %+v", code, field, v.Errors)
}
