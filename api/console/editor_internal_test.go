package console

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// TestConditionEditorOffersWhatTheDomainAccepts: for every field type and
// operator, the editor offers the operator exactly when the domain accepts
// a condition with it, so the narrowing never hides a valid choice nor
// offers one the save refuses.
func TestConditionEditorOffersWhatTheDomainAccepts(t *testing.T) {
	t.Parallel()
	target := uuid.New()
	schema := domain.Schema{
		Selects:  []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{{Value: "web", Label: "Web"}}}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}},
	}
	samples := map[domain.FieldType]any{
		domain.TypeText: "a", domain.TypeTextarea: "a", domain.TypeEmail: "a@example.com", domain.TypePhone: "+1 555 0100",
		domain.TypeURL: "https://example.com", domain.TypeNumber: 1.0, domain.TypeBoolean: true, domain.TypeDate: "2026-03-01",
		domain.TypeDatetime: "2026-03-01T00:00:00Z", domain.TypeSelect: "web", domain.TypeMultiselect: "web",
		domain.TypeRelation: uuid.NewString(),
	}
	for _, ft := range domain.FieldTypes {
		f := domain.Field{Key: "f_" + string(ft), Label: string(ft), Type: ft}
		switch ft {
		case domain.TypeSelect, domain.TypeMultiselect:
			f.Select = "source"
		case domain.TypeRelation:
			f.Campaign = &target
		}
		schema.Fields = append(schema.Fields, f)
	}
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	fields := filterFields(schema)
	if len(fields) != len(domain.FieldTypes)+3 {
		t.Fatalf("the editor offers %d fields, want the %d of the schema and status, created_at, updated_at", len(fields), len(domain.FieldTypes))
	}
	for _, ff := range fields {
		sample, ok := samples[ff.Type]
		switch ff.Key {
		case domain.AttrStatus:
			sample, ok = "new", true
		case domain.AttrCreatedAt, domain.AttrUpdatedAt:
			sample, ok = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), true
		}
		if !ok {
			t.Fatalf("no sample value for %s", ff.Type)
		}
		offered := opsFor(ff.Type)
		for _, op := range domain.Ops {
			cond := domain.Condition{Field: ff.Key, Op: op, Value: sample}
			switch op {
			case domain.OpEmpty, domain.OpNotEmpty:
				cond.Value = nil
			case domain.OpIn, domain.OpNotIn:
				cond.Value = []any{sample}
			case domain.OpBetween:
				cond.Value = []any{sample, sample}
			}
			_, err := domain.ValidateConditions([]domain.Condition{cond}, schema)
			if accepted, offers := err == nil, slices.Contains(offered, op); accepted != offers {
				t.Errorf("%s (%s) %s: the domain accepts it: %v, the editor offers it: %v (%v)", ff.Key, ff.Type, op, accepted, offers, err)
			}
		}
	}
}

// TestSignInDestinationStaysInTheConsole: the page to return to after
// signing in is never another site.
func TestSignInDestinationStaysInTheConsole(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/console/campaigns/x?notice=a": "/campaigns/x?notice=a",
		"/console":                      "",
		"//evil.example/console/":       "",
		"https://evil.example/console/": "",
		"/console//evil.example":        "",
		"/console/\\evil.example":       "",
		"/consolex/campaigns":           "",
		"/v1/leads":                     "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestErrorSummaryNamesTheInput(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"name":                        "Name",
		"fields[2].key":               "Field 3, key",
		"selects[0].options[1].value": "Select list 1, option 2, value",
		"conditions[1].op":            "Condition 2, operator",
		"filter_id":                   "Filter",
		"option.value":                "New option",
		"url":                         "Address",
	} {
		if got := where(path); got != want {
			t.Errorf("where(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestKeysAreMadeFromLabels: keys and slugs keep the domain's key rule
// whatever the label; option values keep the label's words.
func TestKeysAreMadeFromLabels(t *testing.T) {
	t.Parallel()
	for label, want := range map[string]string{
		"Full name":               "full_name",
		"E-mail":                  "e_mail",
		"Første kontakt":          "forste_kontakt",
		"  Straße  ":              "strasse",
		"2nd phone":               "n_2nd_phone",
		"???":                     "",
		"Имя":                     "",
		strings.Repeat("ab ", 40): strings.TrimRight(strings.Repeat("ab_", 21), "_"),
	} {
		if got := keyFrom(label); got != want {
			t.Errorf("keyFrom(%q) = %q, want %q", label, got, want)
		}
	}
	got := optionsFrom("Website\n\n  Partner ABC \nÆble", "web\n\n")
	want := []domain.Option{{Value: "web", Label: "Website"}, {Value: "partner-abc", Label: "Partner ABC"}, {Value: "aeble", Label: "Æble"}}
	if !slices.Equal(got, want) {
		t.Errorf("optionsFrom = %+v, want %+v", got, want)
	}
	sts := statusesFrom("New\nCall back", "\nring_back")
	if len(sts) != 2 || sts[0].Slug != "new" || sts[1].Slug != "ring_back" || sts[1].Label != "Call back" {
		t.Errorf("statusesFrom = %+v", sts)
	}
}
