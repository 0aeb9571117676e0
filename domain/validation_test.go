package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

func TestValidateFields(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	leadID := uuid.New().String()
	t.Run("every type normalizes", func(t *testing.T) {
		in := map[string]any{
			"name": "Ada", "notes": "long\ntext", "budget": json.Number("12.5"), "consent": true,
			"callback_on": "2026-03-02", "seen_at": "2026-03-01T10:00:00+01:00", "email": " ada@example.com ",
			"phone": "+44 20 7946 0958", "site": "https://example.com/x", "source": "website",
			"interests": []any{"solar", "battery", "solar"}, "parent": strings.ToUpper(leadID),
		}
		got, err := s.ValidateFields(in, domain.ModeCreate)
		if err != nil {
			t.Fatal(err)
		}
		want := domain.Fields{
			"name": "Ada", "notes": "long\ntext", "budget": 12.5, "consent": true, "callback_on": "2026-03-02",
			"seen_at": "2026-03-01T09:00:00Z", "email": "ada@example.com", "phone": "+44 20 7946 0958",
			"site": "https://example.com/x", "source": "website", "interests": []string{"solar", "battery"}, "parent": leadID,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %#v\nwant %#v", got, want)
		}
		// Stored values read back from JSON normalize to the same thing.
		b, _ := json.Marshal(got)
		var back domain.Fields
		_ = json.Unmarshal(b, &back)
		if !reflect.DeepEqual(domain.NormalizeStored(back), want) {
			t.Fatalf("round trip %#v", domain.NormalizeStored(back))
		}
	})
	for _, tc := range []struct {
		field string
		value any
		code  string
	}{
		{"colour", "red", domain.CodeUnknownField},
		{"budget", "12", domain.CodeWrongType},
		{"budget", true, domain.CodeWrongType},
		{"consent", "yes", domain.CodeWrongType},
		{"name", 42, domain.CodeWrongType},
		{"name", strings.Repeat("x", 1001), domain.CodeTooLong},
		{"email", "not-an-email", domain.CodeInvalidFormat},
		{"email", "Ada <ada@example.com>", domain.CodeInvalidFormat},
		{"phone", "call me", domain.CodeInvalidFormat},
		{"site", "ftp://example.com", domain.CodeInvalidFormat},
		{"site", "/relative", domain.CodeInvalidFormat},
		{"callback_on", "02/03/2026", domain.CodeInvalidFormat},
		{"seen_at", "2026-03-01", domain.CodeInvalidFormat},
		{"source", "partner-nope", domain.CodeUnknownOption},
		{"source", []any{"website"}, domain.CodeWrongType},
		{"interests", "solar", domain.CodeWrongType},
		{"interests", []any{"solar", "wind"}, domain.CodeUnknownOption},
		{"parent", "lead-1", domain.CodeInvalidFormat},
	} {
		t.Run(tc.field+"="+strings.ReplaceAll(jsonString(tc.value), "/", "∕"), func(t *testing.T) {
			_, err := s.ValidateFields(map[string]any{"name": "Ada", tc.field: tc.value}, domain.ModeCreate)
			wantCode(t, err, "fields."+tc.field, tc.code)
		})
	}
	t.Run("required on create, not on update", func(t *testing.T) {
		_, err := s.ValidateFields(map[string]any{"budget": 1}, domain.ModeCreate)
		wantCode(t, err, "fields.name", domain.CodeRequired)
		got, err := s.ValidateFields(map[string]any{"budget": 1, "email": nil}, domain.ModeUpdate)
		if err != nil || len(got) != 2 || got["email"] != nil {
			t.Fatalf("update: %v %v", got, err)
		}
	})
	t.Run("every problem at once", func(t *testing.T) {
		_, err := s.ValidateFields(map[string]any{"budget": "x", "colour": 1, "email": "y"}, domain.ModeCreate)
		var v *domain.ValidationError
		if !asValidation(err, &v) || len(v.Errors) != 4 {
			t.Fatalf("want 4 problems (budget, colour, email, name), got %v", err)
		}
	})
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 20 {
		b = b[:20]
	}
	return string(b)
}

func asValidation(err error, v **domain.ValidationError) bool {
	ve, ok := err.(*domain.ValidationError)
	*v = ve
	return ok
}

func TestConditionEvaluation(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	lead := domain.LeadView{
		Status: "won",
		Fields: domain.Fields{"name": "Ada Lovelace", "budget": 1200.0, "source": "partner-abc", "interests": []string{"solar"},
			"callback_on": "2026-03-10", "seen_at": "2026-03-01T10:00:00Z", "consent": true},
		CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
	}
	for _, tc := range []struct {
		c    domain.Condition
		want bool
	}{
		{domain.Condition{Field: "source", Op: domain.OpEq, Value: "partner-abc"}, true},
		{domain.Condition{Field: "source", Op: domain.OpEq, Value: "website"}, false},
		{domain.Condition{Field: "source", Op: domain.OpNeq, Value: "website"}, true},
		{domain.Condition{Field: "email", Op: domain.OpNeq, Value: "a@b.co"}, true}, // empty is not equal
		{domain.Condition{Field: "email", Op: domain.OpEq, Value: "a@b.co"}, false},
		{domain.Condition{Field: "source", Op: domain.OpIn, Value: []any{"website", "partner-abc"}}, true},
		{domain.Condition{Field: "source", Op: domain.OpNotIn, Value: []any{"website"}}, true},
		{domain.Condition{Field: "source", Op: domain.OpNotIn, Value: []any{"partner-abc"}}, false},
		{domain.Condition{Field: "name", Op: domain.OpContains, Value: "LOVE"}, true},
		{domain.Condition{Field: "name", Op: domain.OpContains, Value: "Hopper"}, false},
		{domain.Condition{Field: "interests", Op: domain.OpContains, Value: "solar"}, true},
		{domain.Condition{Field: "interests", Op: domain.OpEq, Value: "battery"}, false},
		{domain.Condition{Field: "email", Op: domain.OpEmpty}, true},
		{domain.Condition{Field: "name", Op: domain.OpEmpty}, false},
		{domain.Condition{Field: "name", Op: domain.OpNotEmpty}, true},
		{domain.Condition{Field: "budget", Op: domain.OpGt, Value: 1000.0}, true},
		{domain.Condition{Field: "budget", Op: domain.OpGt, Value: 1200.0}, false},
		{domain.Condition{Field: "budget", Op: domain.OpGte, Value: 1200.0}, true},
		{domain.Condition{Field: "budget", Op: domain.OpLt, Value: 1200.0}, false},
		{domain.Condition{Field: "budget", Op: domain.OpLte, Value: 1200.0}, true},
		{domain.Condition{Field: "budget", Op: domain.OpBetween, Value: []any{1000.0, 2000.0}}, true},
		{domain.Condition{Field: "budget", Op: domain.OpBetween, Value: []any{1300.0, 2000.0}}, false},
		{domain.Condition{Field: "callback_on", Op: domain.OpLt, Value: "2026-04-01"}, true},
		{domain.Condition{Field: "seen_at", Op: domain.OpGt, Value: "2026-03-01T09:59:59Z"}, true},
		{domain.Condition{Field: "status", Op: domain.OpEq, Value: "won"}, true},
		{domain.Condition{Field: "status", Op: domain.OpIn, Value: []any{"new", "lost"}}, false},
		{domain.Condition{Field: "created_at", Op: domain.OpLt, Value: "2026-03-01T10:00:00Z"}, true},
		{domain.Condition{Field: "updated_at", Op: domain.OpGt, Value: "2026-03-01T10:00:00Z"}, false},
		{domain.Condition{Field: "consent", Op: domain.OpEq, Value: true}, true},
	} {
		name := tc.c.Field + " " + string(tc.c.Op) + " " + jsonString(tc.c.Value)
		t.Run(name, func(t *testing.T) {
			valid, err := domain.ValidateConditions([]domain.Condition{tc.c}, s)
			if err != nil {
				t.Fatalf("ValidateConditions: %v", err)
			}
			if got := domain.EvalCondition(s, valid[0], lead); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Every operator appears above.
	seen := map[domain.Op]bool{}
	for _, op := range []domain.Op{domain.OpEq, domain.OpNeq, domain.OpIn, domain.OpNotIn, domain.OpContains, domain.OpEmpty,
		domain.OpNotEmpty, domain.OpGt, domain.OpGte, domain.OpLt, domain.OpLte, domain.OpBetween} {
		seen[op] = true
	}
	for _, op := range domain.Ops {
		if !seen[op] {
			t.Errorf("operator %s is not tested", op)
		}
	}
}

func TestValidateConditionsRefusals(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		name        string
		c           domain.Condition
		field, code string
	}{
		{"unknown field", domain.Condition{Field: "colour", Op: domain.OpEq, Value: "red"}, "conditions[0].field", domain.CodeUnknownField},
		{"unknown op", domain.Condition{Field: "name", Op: "like", Value: "x"}, "conditions[0].op", domain.CodeInvalidValue},
		{"unknown option", domain.Condition{Field: "source", Op: domain.OpEq, Value: "nope"}, "conditions[0].value", domain.CodeUnknownOption},
		{"unknown status", domain.Condition{Field: "status", Op: domain.OpEq, Value: "gone"}, "conditions[0].value", domain.CodeUnknownStatus},
		{"gt on text", domain.Condition{Field: "name", Op: domain.OpGt, Value: "a"}, "conditions[0].op", domain.CodeInvalidValue},
		{"contains on number", domain.Condition{Field: "budget", Op: domain.OpContains, Value: 1}, "conditions[0].op", domain.CodeInvalidValue},
		{"in without array", domain.Condition{Field: "source", Op: domain.OpIn, Value: "website"}, "conditions[0].value", domain.CodeWrongType},
		{"between reversed", domain.Condition{Field: "budget", Op: domain.OpBetween, Value: []any{2.0, 1.0}}, "conditions[0].value", domain.CodeInvalidValue},
		{"between of three", domain.Condition{Field: "budget", Op: domain.OpBetween, Value: []any{1.0, 2.0, 3.0}}, "conditions[0].value", domain.CodeInvalidValue},
		{"empty with value", domain.Condition{Field: "name", Op: domain.OpEmpty, Value: "x"}, "conditions[0].value", domain.CodeInvalidValue},
		{"wrong value type", domain.Condition{Field: "budget", Op: domain.OpEq, Value: "many"}, "conditions[0].value", domain.CodeWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.ValidateConditions([]domain.Condition{tc.c}, s)
			wantCode(t, err, tc.field, tc.code)
		})
	}
}

func TestFilterMatchingDefaultsAndExplanation(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	f := domain.Filter{
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}, {Field: "status", Op: domain.OpEq, Value: "new"},
			{Field: "interests", Op: domain.OpEq, Value: "solar"}},
		Any: [][]domain.Condition{{{Field: "budget", Op: domain.OpGt, Value: 100.0}, {Field: "consent", Op: domain.OpEq, Value: true}}},
	}
	in := domain.LeadView{Status: "new", Fields: domain.Fields{"source": "partner-abc", "interests": []string{"solar"}, "consent": true}}
	if !f.Matches(s, in) {
		t.Fatal("a lead meeting every condition does not match")
	}
	out := in
	out.Fields = domain.Fields{"source": "website", "interests": []string{"solar"}, "consent": true}
	if c, failing := f.FirstFailing(s, out); !failing || c.Field != "source" {
		t.Fatalf("first failing = %+v %v, want source", c, failing)
	}
	noGroup := in
	noGroup.Fields = domain.Fields{"source": "partner-abc", "interests": []string{"solar"}}
	if c, failing := f.FirstFailing(s, noGroup); !failing || c.Field != "budget" {
		t.Fatalf("the any group: %+v %v", c, failing)
	}
	defaults := f.EqualityDefaults(s)
	want := map[string]any{"source": "partner-abc", "status": "new", "interests": []string{"solar"}}
	if !reflect.DeepEqual(defaults, want) {
		t.Fatalf("defaults %#v", defaults)
	}
	lines := f.Explain(s)
	if len(lines) != 4 || lines[0] != "source = Partner ABC (partner-abc)" || !strings.HasPrefix(lines[3], "any of: budget > 100 or ") {
		t.Fatalf("explanation %q", lines)
	}
}

type noteV2 struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

func (noteV2) EventType() string { return "test.note" }

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := domain.NewRegistry()
	samples := []domain.Event{
		domain.AccountCreated{AccountID: acct, Name: "Acme", At: t0},
		domain.CampaignCreated{CampaignID: campID, AccountID: acct, Name: "Solar", Fields: fullSchema().Fields, Selects: fullSchema().Selects, Statuses: fullSchema().Statuses, At: t0},
		domain.FilterCreated{FilterID: uuid.New(), CampaignID: campID, AccountID: acct, Name: "F", Conditions: []domain.Condition{{Field: "source", Op: "eq", Value: "website"}}, At: t0},
		domain.TokenRotated{TokenID: uuid.New(), SecretPrefix: "lsk_abcd", SecretLast4: "wxyz", PreviousValidUntil: t0, At: t0},
		domain.LeadUpdated{LeadID: uuid.New(), Fields: domain.Fields{"name": "Ada"}, StatusFrom: "new", StatusTo: "won", At: t0},
		domain.FileAttached{LeadID: uuid.New(), File: domain.FileMeta{ID: uuid.New(), Name: "a.pdf", ContentType: "application/pdf", Size: 1, SHA256: "00"}, At: t0},
	}
	for _, e := range samples {
		name, data, err := r.Encode(e)
		if err != nil || name != e.EventType() {
			t.Fatalf("Encode %T: %s %v", e, name, err)
		}
		back, err := r.Decode(name, data)
		if err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("%s does not round-trip:\n%#v\n%#v (%v)", name, back, e, err)
		}
	}
	if len(r.Names()) != 31 {
		t.Errorf("%d event types registered, want 31: %v", len(r.Names()), r.Names())
	}
	if _, err := r.Decode("lead.teleported", []byte(`{}`)); err == nil {
		t.Error("an unknown type decoded")
	}
	t.Run("upcasting an old shape", func(t *testing.T) {
		old := domain.NewEmptyRegistry()
		// v1 stored {"body": ...}; v2 calls it text.
		domain.Register[noteV2](old, func(data json.RawMessage) (json.RawMessage, error) {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, err
			}
			if b, ok := m["body"]; ok {
				m["text"] = b
				delete(m, "body")
			}
			return json.Marshal(m)
		})
		e, err := old.Decode("test.note", []byte(`{"body":"hello","n":2}`))
		if err != nil || e.(noteV2).Text != "hello" || e.(noteV2).N != 2 {
			t.Fatalf("upcast: %#v %v", e, err)
		}
	})
}
