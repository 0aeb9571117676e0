package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// fc is one expected problem of a *ValidationError: the field path and code.
type fc struct{ field, code string }

// problems returns the (field, code) pairs of err, failing unless err is a
// *ValidationError found with errors.As.
func problems(t *testing.T, err error) []fc {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want a *ValidationError, got %T %v", err, err)
	}
	out := make([]fc, len(v.Errors))
	for i, fe := range v.Errors {
		out[i] = fc{fe.Field, fe.Code}
		if !strings.HasPrefix(fe.Message, fe.Field+": ") {
			t.Errorf("message %q does not start with its field %q", fe.Message, fe.Field)
		}
	}
	return out
}

// decision is a given/when/then case: given a history, when a command is
// decided, then exactly these events, or this sentinel error, or exactly
// these validation problems.
type decision[A any] struct {
	name     string
	given    []domain.Event
	when     func(A) ([]domain.Event, error)
	then     []domain.Event
	sentinel error
	invalid  []fc
}

func runDecisions[A any](t *testing.T, foldFn func([]domain.Event) A, cases []decision[A]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agg := foldFn(tc.given)
			events, err := tc.when(agg)
			switch {
			case tc.sentinel != nil:
				if !errors.Is(err, tc.sentinel) {
					t.Fatalf("want error %v, got %v (events %v)", tc.sentinel, err, events)
				}
				if events != nil {
					t.Fatalf("events %v decided along with an error", events)
				}
			case tc.invalid != nil:
				if got := problems(t, err); !reflect.DeepEqual(got, tc.invalid) {
					t.Fatalf("problems\n got  %v\n want %v", got, tc.invalid)
				}
				if events != nil {
					t.Fatalf("events %v decided along with an error", events)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if !reflect.DeepEqual(events, tc.then) {
					t.Fatalf("events\n got  %#v\n want %#v", events, tc.then)
				}
			}
		})
	}
}

var t1 = t0.Add(time.Hour)

func campaignCreated() domain.CampaignCreated {
	s := fullSchema()
	return domain.CampaignCreated{CampaignID: campID, AccountID: acct, Name: "Solar", Fields: s.Fields, Selects: s.Selects,
		Statuses: s.Statuses, At: t0}
}

// schemaWith returns the full schema changed by mutate.
func schemaWith(mutate func(*domain.Schema)) domain.Schema {
	s := fullSchema()
	mutate(&s)
	return s
}

func minimalSchema() domain.Schema {
	return domain.Schema{Statuses: []domain.Status{{Slug: "new", Label: "New"}}}
}

func TestCampaignCreateDecisions(t *testing.T) {
	t.Parallel()
	create := func(name string, s domain.Schema) func(domain.Campaign) ([]domain.Event, error) {
		return func(domain.Campaign) ([]domain.Event, error) { return domain.CreateCampaign(campID, acct, name, s, t0) }
	}
	textField := func(key string) domain.Field { return domain.Field{Key: key, Label: "L", Type: domain.TypeText} }
	nilID := uuid.Nil
	runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
		{name: "every field type", when: create("Solar", fullSchema()), then: []domain.Event{campaignCreated()}},
		{name: "only statuses: fields and selects are empty, not null",
			when: create("Min", minimalSchema()),
			then: []domain.Event{domain.CampaignCreated{CampaignID: campID, AccountID: acct, Name: "Min",
				Fields: []domain.Field{}, Selects: []domain.Select{}, Statuses: minimalSchema().Statuses, At: t0}}},
		{name: "63-character key is allowed",
			when: create("x", schemaWith(func(s *domain.Schema) { s.Fields = []domain.Field{textField("a" + strings.Repeat("b", 62))} })),
			then: []domain.Event{domain.CampaignCreated{CampaignID: campID, AccountID: acct, Name: "x",
				Fields: []domain.Field{textField("a" + strings.Repeat("b", 62))}, Selects: fullSchema().Selects, Statuses: fullSchema().Statuses, At: t0}}},
		{name: "blank name", when: create(" \t", fullSchema()), invalid: []fc{{"name", domain.CodeInvalidValue}}},
		{name: "name of 201 characters", when: create(strings.Repeat("é", 201), fullSchema()), invalid: []fc{{"name", domain.CodeTooLong}}},
		{name: "name not UTF-8", when: create("caf\xe9", fullSchema()), invalid: []fc{{"name", domain.CodeInvalidUTF8}}},
		{name: "name with NUL", when: create("a\x00b", fullSchema()), invalid: []fc{{"name", domain.CodeNUL}}},
		{name: "duplicate field keys",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields = []domain.Field{textField("a"), textField("b"), textField("a")} })),
			invalid: []fc{{"fields[2].key", domain.CodeInvalidValue}}},
		{name: "unknown select reference",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[9].Select = "nope" })),
			invalid: []fc{{"fields[9].select", domain.CodeInvalidValue}}},
		{name: "multiselect without select",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[10].Select = "" })),
			invalid: []fc{{"fields[10].select", domain.CodeInvalidValue}}},
		{name: "text field naming a select",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[0].Select = "source" })),
			invalid: []fc{{"fields[0].select", domain.CodeInvalidValue}}},
		{name: "relation without campaign",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[11].Campaign = nil })),
			invalid: []fc{{"fields[11].campaign", domain.CodeRequired}}},
		{name: "relation to the nil campaign",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[11].Campaign = &nilID })),
			invalid: []fc{{"fields[11].campaign", domain.CodeRequired}}},
		{name: "unknown field type",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[2].Type = "money" })),
			invalid: []fc{{"fields[2].type", domain.CodeInvalidValue}}},
		{name: "field without label",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[3].Label = "" })),
			invalid: []fc{{"fields[3].label", domain.CodeRequired}}},
		{name: "key starting with a digit",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[0].Key = "1st" })),
			invalid: []fc{{"fields[0].key", domain.CodeInvalidFormat}}},
		{name: "key of 64 characters",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[0].Key = strings.Repeat("a", 64) })),
			invalid: []fc{{"fields[0].key", domain.CodeInvalidFormat}}},
		{name: "upper-case key",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[0].Key = "Name" })),
			invalid: []fc{{"fields[0].key", domain.CodeInvalidFormat}}},
		{name: "reserved key created_at",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Fields[0].Key = "created_at" })),
			invalid: []fc{{"fields[0].key", domain.CodeInvalidValue}}},
		{name: "empty statuses",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Statuses = []domain.Status{} })),
			invalid: []fc{{"statuses", domain.CodeRequired}}},
		{name: "status slug with a dash and no label",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Statuses[1] = domain.Status{Slug: "call-back"} })),
			invalid: []fc{{"statuses[1].slug", domain.CodeInvalidFormat}, {"statuses[1].label", domain.CodeRequired}}},
		{name: "duplicate status",
			when:    create("x", schemaWith(func(s *domain.Schema) { s.Statuses[2].Slug = "new" })),
			invalid: []fc{{"statuses[2].slug", domain.CodeInvalidValue}}},
		{name: "201 fields", when: create("x", schemaWith(func(s *domain.Schema) {
			for i := range 201 {
				s.Fields = append(s.Fields, textField(fmt.Sprintf("f%d", i)))
			}
		})), invalid: []fc{{"fields", domain.CodeTooMany}}},
		{name: "501 options", when: create("x", schemaWith(func(s *domain.Schema) {
			for i := range 501 {
				s.Selects[1].Options = append(s.Selects[1].Options, domain.Option{Value: fmt.Sprint(i), Label: "L"})
			}
		})), invalid: []fc{{"selects[1].options", domain.CodeTooMany}}},
		{name: "51 selects and 51 statuses", when: create("x", schemaWith(func(s *domain.Schema) {
			for i := range 51 {
				s.Selects = append(s.Selects, domain.Select{Key: fmt.Sprintf("s%d", i), Label: "S"})
				s.Statuses = append(s.Statuses, domain.Status{Slug: fmt.Sprintf("s%d", i), Label: "S"})
			}
		})), invalid: []fc{{"selects", domain.CodeTooMany}, {"statuses", domain.CodeTooMany}}},
		{name: "label of 201 characters and labels not text", when: create("x", schemaWith(func(s *domain.Schema) {
			s.Fields[0].Label = strings.Repeat("l", 201)
			s.Selects[0].Label = "a\x00"
			s.Statuses[0].Label = "\xc3"
		})), invalid: []fc{{"selects[0].label", domain.CodeNUL}, {"fields[0].label", domain.CodeTooLong}, {"statuses[0].label", domain.CodeInvalidUTF8}}},
		{name: "duplicate select key",
			when: create("x", schemaWith(func(s *domain.Schema) {
				s.Selects = append(s.Selects, domain.Select{Key: "source", Label: "Again"})
			})),
			invalid: []fc{{"selects[2].key", domain.CodeInvalidValue}}},
		{name: "select without label, options empty, overlong and duplicate",
			when: create("x", schemaWith(func(s *domain.Schema) {
				s.Selects[1] = domain.Select{Key: "interests", Options: []domain.Option{
					{Value: "", Label: "Empty"}, {Value: strings.Repeat("v", 201), Label: "Long"}, {Value: "a", Label: "A"}, {Value: "a"},
				}}
			})),
			invalid: []fc{
				{"selects[1].label", domain.CodeRequired},
				{"selects[1].options[0].value", domain.CodeInvalidValue},
				{"selects[1].options[1].value", domain.CodeTooLong},
				{"selects[1].options[3].value", domain.CodeInvalidValue},
				{"selects[1].options[3].label", domain.CodeRequired},
			}},
		{name: "every problem at once, in schema order",
			when: create("", schemaWith(func(s *domain.Schema) {
				s.Selects[0].Key = "Source"
				s.Fields[9].Select = "Source"
				s.Fields[0].Key = "id"
				s.Statuses = nil
			})),
			invalid: []fc{
				{"name", domain.CodeInvalidValue},
				{"selects[0].key", domain.CodeInvalidFormat},
				{"fields[0].key", domain.CodeInvalidValue},
				{"statuses", domain.CodeRequired},
			}},
	})
	t.Run("every reserved key is refused", func(t *testing.T) {
		for key := range domain.ReservedFieldKeys {
			t.Run(key, func(t *testing.T) {
				_, err := domain.CreateCampaign(campID, acct, "x", schemaWith(func(s *domain.Schema) { s.Fields[0].Key = key }), t0)
				if got := problems(t, err); !reflect.DeepEqual(got, []fc{{"fields[0].key", domain.CodeInvalidValue}}) {
					t.Fatalf("problems %v", got)
				}
			})
		}
	})
	t.Run("folding the creation", func(t *testing.T) {
		c := domain.FoldCampaign(mustEvents(t)(domain.CreateCampaign(campID, acct, "Solar", fullSchema(), t0)))
		want := domain.Campaign{ID: campID, AccountID: acct, Name: "Solar", Schema: fullSchema(), Version: 1, CreatedAt: t0, UpdatedAt: t0}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("got  %+v\nwant %+v", c, want)
		}
		if !c.Exists() || (domain.Campaign{}).Exists() {
			t.Fatal("Exists does not follow the version")
		}
	})
}

func TestCampaignCommandDecisions(t *testing.T) {
	t.Parallel()
	created := []domain.Event{campaignCreated()}
	notFound := func(when func(domain.Campaign) ([]domain.Event, error)) decision[domain.Campaign] {
		return decision[domain.Campaign]{name: "on a missing campaign", when: when, sentinel: domain.ErrCampaignNotFound}
	}
	t.Run("Rename", func(t *testing.T) {
		rename := func(name string) func(domain.Campaign) ([]domain.Event, error) {
			return func(c domain.Campaign) ([]domain.Event, error) { return c.Rename(name, t1) }
		}
		runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
			{name: "new name", given: created, when: rename("Solar 2026"),
				then: []domain.Event{domain.CampaignRenamed{CampaignID: campID, Name: "Solar 2026", At: t1}}},
			{name: "same name is a no-op", given: created, when: rename("Solar"), then: nil},
			{name: "the latest name counts", given: append(created, domain.CampaignRenamed{CampaignID: campID, Name: "Wind", At: t0}),
				when: rename("Wind"), then: nil},
			{name: "back to an earlier name", given: append(created, domain.CampaignRenamed{CampaignID: campID, Name: "Wind", At: t0}),
				when: rename("Solar"), then: []domain.Event{domain.CampaignRenamed{CampaignID: campID, Name: "Solar", At: t1}}},
			{name: "blank", given: created, when: rename(""), invalid: []fc{{"name", domain.CodeInvalidValue}}},
			{name: "too long", given: created, when: rename(strings.Repeat("é", 201)), invalid: []fc{{"name", domain.CodeTooLong}}},
			{name: "NUL", given: created, when: rename("a\x00"), invalid: []fc{{"name", domain.CodeNUL}}},
			notFound(rename("x")),
		})
	})
	t.Run("AddSelect", func(t *testing.T) {
		product := domain.Select{Key: "product", Label: "Product", Options: []domain.Option{{Value: "pv", Label: "PV"}}}
		add := func(sl domain.Select) func(domain.Campaign) ([]domain.Event, error) {
			return func(c domain.Campaign) ([]domain.Event, error) { return c.AddSelect(sl, t1) }
		}
		runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
			{name: "new select", given: created, when: add(product),
				then: []domain.Event{domain.SelectAdded{CampaignID: campID, Select: product, At: t1}}},
			{name: "without options", given: created, when: add(domain.Select{Key: "empty", Label: "Empty"}),
				then: []domain.Event{domain.SelectAdded{CampaignID: campID, Select: domain.Select{Key: "empty", Label: "Empty"}, At: t1}}},
			{name: "duplicate key", given: created, when: add(domain.Select{Key: "source", Label: "Again"}),
				invalid: []fc{{"selects[2].key", domain.CodeInvalidValue}}},
			{name: "duplicate of an added select", given: append(created, domain.SelectAdded{CampaignID: campID, Select: product, At: t0}),
				when: add(product), invalid: []fc{{"selects[3].key", domain.CodeInvalidValue}}},
			{name: "bad key and no label", given: created, when: add(domain.Select{Key: "Product"}),
				invalid: []fc{{"selects[2].key", domain.CodeInvalidFormat}, {"selects[2].label", domain.CodeRequired}}},
			{name: "duplicate option", given: created,
				when:    add(domain.Select{Key: "p", Label: "P", Options: []domain.Option{{Value: "a", Label: "A"}, {Value: "a", Label: "B"}}}),
				invalid: []fc{{"selects[2].options[1].value", domain.CodeInvalidValue}}},
			notFound(add(product)),
		})
	})
	t.Run("AddSelectOption", func(t *testing.T) {
		xyz := domain.Option{Value: "partner-xyz", Label: "Partner XYZ"}
		add := func(key string, o domain.Option) func(domain.Campaign) ([]domain.Event, error) {
			return func(c domain.Campaign) ([]domain.Event, error) { return c.AddSelectOption(key, o, t1) }
		}
		runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
			{name: "new option", given: created, when: add("source", xyz),
				then: []domain.Event{domain.SelectOptionAdded{CampaignID: campID, Select: "source", Option: xyz, At: t1}}},
			{name: "same value in another select", given: created, when: add("interests", domain.Option{Value: "website", Label: "W"}),
				then: []domain.Event{domain.SelectOptionAdded{CampaignID: campID, Select: "interests", Option: domain.Option{Value: "website", Label: "W"}, At: t1}}},
			{name: "duplicate option", given: created, when: add("source", domain.Option{Value: "website", Label: "Again"}),
				invalid: []fc{{"option.value", domain.CodeInvalidValue}}},
			{name: "duplicate of an added option", given: append(created, domain.SelectOptionAdded{CampaignID: campID, Select: "source", Option: xyz, At: t0}),
				when: add("source", xyz), invalid: []fc{{"option.value", domain.CodeInvalidValue}}},
			{name: "option of an added select", given: append(created, domain.SelectAdded{CampaignID: campID, Select: domain.Select{Key: "p", Label: "P"}, At: t0}),
				when: add("p", xyz), then: []domain.Event{domain.SelectOptionAdded{CampaignID: campID, Select: "p", Option: xyz, At: t1}}},
			{name: "unknown select", given: created, when: add("nope", xyz), invalid: []fc{{"select", domain.CodeInvalidValue}}},
			{name: "empty value and label", given: created, when: add("source", domain.Option{}),
				invalid: []fc{{"option.value", domain.CodeInvalidValue}, {"option.label", domain.CodeRequired}}},
			{name: "value of 201 characters", given: created, when: add("source", domain.Option{Value: strings.Repeat("v", 201), Label: "V"}),
				invalid: []fc{{"option.value", domain.CodeTooLong}}},
			{name: "label not UTF-8", given: created, when: add("source", domain.Option{Value: "v", Label: "\xff"}),
				invalid: []fc{{"option.label", domain.CodeInvalidUTF8}}},
			notFound(add("source", xyz)),
		})
	})
	t.Run("AddField", func(t *testing.T) {
		add := func(f domain.Field) func(domain.Campaign) ([]domain.Event, error) {
			return func(c domain.Campaign) ([]domain.Event, error) { return c.AddField(f, t1) }
		}
		ref := domain.Field{Key: "ref", Label: "Ref", Type: domain.TypeText, Required: true}
		second := domain.Field{Key: "second_source", Label: "Second source", Type: domain.TypeSelect, Select: "source"}
		rel := domain.Field{Key: "owner", Label: "Owner", Type: domain.TypeRelation, Campaign: &campID}
		tags := domain.Field{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "tags"}
		runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
			{name: "required text field", given: created, when: add(ref), then: []domain.Event{domain.FieldAdded{CampaignID: campID, Field: ref, At: t1}}},
			{name: "select on an existing select", given: created, when: add(second), then: []domain.Event{domain.FieldAdded{CampaignID: campID, Field: second, At: t1}}},
			{name: "relation to its own campaign", given: created, when: add(rel), then: []domain.Event{domain.FieldAdded{CampaignID: campID, Field: rel, At: t1}}},
			{name: "multiselect on an added select",
				given: append(created, domain.SelectAdded{CampaignID: campID, Select: domain.Select{Key: "tags", Label: "Tags"}, At: t0}),
				when:  add(tags), then: []domain.Event{domain.FieldAdded{CampaignID: campID, Field: tags, At: t1}}},
			{name: "multiselect on an unknown select", given: created, when: add(tags), invalid: []fc{{"fields[12].select", domain.CodeInvalidValue}}},
			{name: "duplicate key", given: created, when: add(domain.Field{Key: "email", Label: "E", Type: domain.TypeEmail}),
				invalid: []fc{{"fields[12].key", domain.CodeInvalidValue}}},
			{name: "duplicate of an added field", given: append(created, domain.FieldAdded{CampaignID: campID, Field: ref, At: t0}),
				when: add(ref), invalid: []fc{{"fields[13].key", domain.CodeInvalidValue}}},
			{name: "relation without campaign", given: created, when: add(domain.Field{Key: "owner", Label: "Owner", Type: domain.TypeRelation}),
				invalid: []fc{{"fields[12].campaign", domain.CodeRequired}}},
			{name: "reserved key", given: created, when: add(domain.Field{Key: "files", Label: "Files", Type: domain.TypeText}),
				invalid: []fc{{"fields[12].key", domain.CodeInvalidValue}}},
			{name: "no type", given: created, when: add(domain.Field{Key: "x", Label: "X"}),
				invalid: []fc{{"fields[12].type", domain.CodeInvalidValue}}},
			notFound(add(ref)),
		})
	})
	t.Run("AddStatus", func(t *testing.T) {
		add := func(st domain.Status) func(domain.Campaign) ([]domain.Event, error) {
			return func(c domain.Campaign) ([]domain.Event, error) { return c.AddStatus(st, t1) }
		}
		cb := domain.Status{Slug: "callback", Label: "Call back"}
		runDecisions(t, domain.FoldCampaign, []decision[domain.Campaign]{
			{name: "new status", given: created, when: add(cb), then: []domain.Event{domain.StatusAdded{CampaignID: campID, Status: cb, At: t1}}},
			{name: "duplicate", given: created, when: add(domain.Status{Slug: "won", Label: "Won again"}),
				invalid: []fc{{"statuses[3].slug", domain.CodeInvalidValue}}},
			{name: "duplicate of an added status", given: append(created, domain.StatusAdded{CampaignID: campID, Status: cb, At: t0}),
				when: add(cb), invalid: []fc{{"statuses[4].slug", domain.CodeInvalidValue}}},
			{name: "bad slug and no label", given: created, when: add(domain.Status{Slug: "Call back"}),
				invalid: []fc{{"statuses[3].slug", domain.CodeInvalidFormat}, {"statuses[3].label", domain.CodeRequired}}},
			notFound(add(cb)),
		})
	})
}

func TestCampaignEvolution(t *testing.T) {
	t.Parallel()
	xyz := domain.Option{Value: "partner-xyz", Label: "Partner XYZ"}
	history := []domain.Event{
		campaignCreated(),
		domain.CampaignRenamed{CampaignID: campID, Name: "Wind", At: t0.Add(1 * time.Minute)},
		domain.SelectAdded{CampaignID: campID, Select: domain.Select{Key: "tags", Label: "Tags"}, At: t0.Add(2 * time.Minute)},
		domain.SelectOptionAdded{CampaignID: campID, Select: "source", Option: xyz, At: t0.Add(3 * time.Minute)},
		domain.FieldAdded{CampaignID: campID, Field: domain.Field{Key: "ref", Label: "Ref", Type: domain.TypeText}, At: t0.Add(4 * time.Minute)},
		domain.StatusAdded{CampaignID: campID, Status: domain.Status{Slug: "callback", Label: "Call back"}, At: t0.Add(5 * time.Minute)},
	}
	c := domain.FoldCampaign(history)
	t.Run("state", func(t *testing.T) {
		if c.Name != "Wind" || c.Version != 6 || !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("campaign %+v", c)
		}
		if !c.Schema.HasOption("source", "partner-xyz") || !c.Schema.HasStatus("callback") || len(c.Schema.Selects) != 3 {
			t.Fatalf("schema %+v", c.Schema)
		}
		if f, ok := c.Schema.Field("ref"); !ok || f.Type != domain.TypeText {
			t.Fatalf("field ref: %+v %v", f, ok)
		}
		if c.Schema.DefaultStatus() != "new" || c.Schema.Statuses[len(c.Schema.Statuses)-1].Slug != "callback" {
			t.Fatalf("statuses %v", c.Schema.Statuses)
		}
		if err := c.Schema.Validate(); err != nil {
			t.Fatalf("the folded schema is invalid: %v", err)
		}
	})
	t.Run("evolving does not change earlier states", func(t *testing.T) {
		before := domain.FoldCampaign(history[:1])
		after := before.Evolve(history[3])
		after = after.Evolve(history[4])
		after = after.Evolve(history[5])
		if before.Schema.HasOption("source", "partner-xyz") || len(before.Schema.Fields) != 12 || len(before.Schema.Statuses) != 3 {
			t.Fatalf("the earlier state changed: %+v", before.Schema)
		}
		if !after.Schema.HasOption("source", "partner-xyz") {
			t.Fatal("the later state lacks the option")
		}
	})
	t.Run("the creation event is not aliased", func(t *testing.T) {
		e := campaignCreated()
		c := domain.FoldCampaign([]domain.Event{e})
		c.Schema.Fields[0].Label = "changed"
		c.Schema.Selects[0].Options[0].Label = "changed"
		if e.Fields[0].Label == "changed" || e.Selects[0].Options[0].Label == "changed" {
			t.Fatal("the folded campaign shares slices with its event")
		}
	})
	t.Run("schema lookups", func(t *testing.T) {
		if _, ok := c.Schema.Field("nope"); ok {
			t.Error("unknown field found")
		}
		if _, ok := c.Schema.Select("nope"); ok {
			t.Error("unknown select found")
		}
		if c.Schema.HasOption("nope", "website") || c.Schema.HasOption("source", "nope") || c.Schema.HasStatus("nope") {
			t.Error("unknown option or status found")
		}
		if (domain.Schema{}).DefaultStatus() != "" {
			t.Error("a schema without statuses has a default status")
		}
	})
}
