package domain_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

const parentID = "00000000-0000-0000-0000-000000000001"

// fullLead has a value for every field; emptyLead has none; blankLead has
// empty strings and arrays, which count as empty.
var (
	fullLead = domain.LeadView{
		Status: "won",
		Fields: domain.Fields{"name": "Ada Lovelace", "notes": "", "budget": 1200.0, "consent": false,
			"callback_on": "2026-03-10", "seen_at": "2026-03-01T10:00:00Z", "email": "ada@example.com",
			"phone": "+44 20 7946 0958", "site": "https://example.com/ada", "source": "partner-abc",
			"interests": []string{"solar", "battery"}, "parent": parentID},
		CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
	}
	emptyLead = domain.LeadView{Status: "new", Fields: domain.Fields{}, CreatedAt: t0, UpdatedAt: t0}
	blankLead = domain.LeadView{Status: "", Fields: domain.Fields{"name": "", "interests": []string{}, "notes": ""},
		CreatedAt: t0, UpdatedAt: t0}
)

func cond(field string, op domain.Op, value any) domain.Condition {
	return domain.Condition{Field: field, Op: op, Value: value}
}

func mustConditions(t *testing.T, s domain.Schema, conds ...domain.Condition) []domain.Condition {
	t.Helper()
	valid, err := domain.ValidateConditions(conds, s)
	if err != nil {
		t.Fatalf("ValidateConditions(%v): %v", conds, err)
	}
	return valid
}

func TestEvalConditionEveryOperator(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		c                  domain.Condition
		full, empty, blank bool
	}{
		// eq: a missing value is never equal.
		{cond("source", domain.OpEq, "partner-abc"), true, false, false},
		{cond("source", domain.OpEq, "website"), false, false, false},
		{cond("budget", domain.OpEq, json.Number("1.2e3")), true, false, false},
		{cond("budget", domain.OpEq, 1199.99), false, false, false},
		{cond("consent", domain.OpEq, false), true, false, false},
		{cond("consent", domain.OpEq, true), false, false, false},
		{cond("interests", domain.OpEq, "battery"), true, false, false},
		{cond("callback_on", domain.OpEq, "2026-03-10"), true, false, false},
		{cond("seen_at", domain.OpEq, "2026-03-01T11:00:00+01:00"), true, false, false},
		{cond("parent", domain.OpEq, strings.ToUpper(parentID)), true, false, false},
		{cond("name", domain.OpEq, "ada lovelace"), false, false, false},
		{cond("status", domain.OpEq, "won"), true, false, false},
		{cond("created_at", domain.OpEq, "2026-03-01T10:00:00+01:00"), true, true, true},
		// neq: a missing value is not equal to anything.
		{cond("source", domain.OpNeq, "website"), true, true, true},
		{cond("source", domain.OpNeq, "partner-abc"), false, true, true},
		{cond("interests", domain.OpNeq, "solar"), false, true, true},
		{cond("budget", domain.OpNeq, 1200), false, true, true},
		{cond("status", domain.OpNeq, "won"), false, true, true},
		// in
		{cond("source", domain.OpIn, []any{"website", "partner-abc"}), true, false, false},
		{cond("source", domain.OpIn, []string{"website"}), false, false, false},
		{cond("interests", domain.OpIn, []any{"battery"}), true, false, false},
		{cond("budget", domain.OpIn, []any{json.Number("1"), json.Number("1200")}), true, false, false},
		{cond("status", domain.OpIn, []any{"new", "lost"}), false, true, false},
		// not_in: a missing value is in no list.
		{cond("source", domain.OpNotIn, []any{"website"}), true, true, true},
		{cond("source", domain.OpNotIn, []any{"website", "partner-abc"}), false, true, true},
		{cond("interests", domain.OpNotIn, []any{"solar"}), false, true, true},
		{cond("status", domain.OpNotIn, []any{"won"}), false, true, true},
		// contains: case-insensitive substring; for multiselect, holds the option.
		{cond("name", domain.OpContains, "LOVE"), true, false, false},
		{cond("name", domain.OpContains, "Hopper"), false, false, false},
		{cond("notes", domain.OpContains, "x"), false, false, false},
		{cond("email", domain.OpContains, "@EXAMPLE.com"), true, false, false},
		{cond("phone", domain.OpContains, "+44"), true, false, false},
		{cond("site", domain.OpContains, "example.com"), true, false, false},
		{cond("interests", domain.OpContains, "battery"), true, false, false},
		{cond("interests", domain.OpContains, "solar"), true, false, false},
		// empty and not_empty: "" and [] are empty, false is not.
		{cond("email", domain.OpEmpty, nil), false, true, true},
		{cond("notes", domain.OpEmpty, nil), true, true, true},
		{cond("name", domain.OpEmpty, nil), false, true, true},
		{cond("interests", domain.OpEmpty, nil), false, true, true},
		{cond("consent", domain.OpEmpty, nil), false, true, true},
		{cond("status", domain.OpEmpty, nil), false, false, true},
		{cond("email", domain.OpNotEmpty, nil), true, false, false},
		{cond("interests", domain.OpNotEmpty, nil), true, false, false},
		{cond("consent", domain.OpNotEmpty, nil), true, false, false},
		{cond("status", domain.OpNotEmpty, nil), true, true, false},
		// ordered comparisons: a missing value compares false.
		{cond("budget", domain.OpGt, 1000), true, false, false},
		{cond("budget", domain.OpGt, 1200), false, false, false},
		{cond("budget", domain.OpGte, 1200), true, false, false},
		{cond("budget", domain.OpGte, 1200.01), false, false, false},
		{cond("budget", domain.OpLt, 1200.01), true, false, false},
		{cond("budget", domain.OpLt, 1200), false, false, false},
		{cond("budget", domain.OpLte, 1200), true, false, false},
		{cond("budget", domain.OpLte, -5), false, false, false},
		{cond("callback_on", domain.OpGt, "2026-03-09"), true, false, false},
		{cond("callback_on", domain.OpLt, "2026-03-10"), false, false, false},
		{cond("seen_at", domain.OpGte, "2026-03-01T11:00:00+01:00"), true, false, false},
		{cond("seen_at", domain.OpLt, "2026-03-01T09:59:59Z"), false, false, false},
		{cond("created_at", domain.OpGte, "2026-03-01T09:00:00Z"), true, true, true},
		{cond("created_at", domain.OpLt, "2026-03-01T09:00:00Z"), false, false, false},
		{cond("updated_at", domain.OpGt, "2026-03-01T09:30:00Z"), true, false, false},
		{cond("updated_at", domain.OpLte, "2026-03-01T09:30:00Z"), false, true, true},
		// between is inclusive at both ends.
		{cond("budget", domain.OpBetween, []any{1000, 1200}), true, false, false},
		{cond("budget", domain.OpBetween, []any{1200, 1200}), true, false, false},
		{cond("budget", domain.OpBetween, []any{1200.5, 2000}), false, false, false},
		{cond("callback_on", domain.OpBetween, []any{"2026-03-10", "2026-03-31"}), true, false, false},
		{cond("callback_on", domain.OpBetween, []any{"2026-03-01", "2026-03-09"}), false, false, false},
		{cond("updated_at", domain.OpBetween, []any{"2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z"}), true, true, true},
	} {
		name := fmt.Sprintf("%s %s %v", tc.c.Field, tc.c.Op, tc.c.Value)
		t.Run(name, func(t *testing.T) {
			valid := mustConditions(t, s, tc.c)[0]
			for _, l := range []struct {
				name string
				view domain.LeadView
				want bool
			}{{"full", fullLead, tc.full}, {"empty", emptyLead, tc.empty}, {"blank", blankLead, tc.blank}} {
				if got := domain.EvalCondition(s, valid, l.view); got != l.want {
					t.Errorf("%s lead: got %v, want %v", l.name, got, l.want)
				}
				f := domain.Filter{Conditions: []domain.Condition{valid}}
				if got := f.Matches(s, l.view); got != l.want {
					t.Errorf("%s lead: Matches %v, want %v", l.name, got, l.want)
				}
			}
		})
	}
	t.Run("unknown field is false whatever the operator", func(t *testing.T) {
		for _, op := range domain.Ops {
			if domain.EvalCondition(s, cond("colour", op, nil), emptyLead) {
				t.Errorf("%s on an unknown field holds", op)
			}
		}
	})
	t.Run("unknown operator is false", func(t *testing.T) {
		if domain.EvalCondition(s, cond("name", "like", "Ada"), fullLead) {
			t.Error("an unknown operator holds")
		}
	})
	t.Run("values of the wrong type compare false", func(t *testing.T) {
		odd := domain.LeadView{Fields: domain.Fields{"budget": "lots", "callback_on": "soon"}}
		for _, c := range []domain.Condition{
			cond("budget", domain.OpGt, 1.0), cond("budget", domain.OpLt, 1.0), cond("budget", domain.OpGte, 1.0),
			cond("budget", domain.OpLte, 1.0), cond("budget", domain.OpEq, 1.0), cond("budget", domain.OpBetween, []any{0.0, 1.0}),
			cond("callback_on", domain.OpGte, "2026-01-01"), cond("callback_on", domain.OpLte, "2026-01-01"),
		} {
			if domain.EvalCondition(s, c, odd) {
				t.Errorf("%v holds on an unusable value", c)
			}
		}
	})
}

func TestAnyGroupsAndFirstFailing(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	srcABC := cond("source", domain.OpEq, "partner-abc")
	won := cond("status", domain.OpEq, "won")
	rich := cond("budget", domain.OpGt, 1000.0)
	web := cond("source", domain.OpEq, "website")
	solar := cond("interests", domain.OpContains, "solar")
	hasEmail := cond("email", domain.OpNotEmpty, nil)
	for _, tc := range []struct {
		name    string
		f       domain.Filter
		lead    domain.LeadView
		failing *domain.Condition
	}{
		{"no conditions match everything", domain.Filter{}, emptyLead, nil},
		{"all hold", domain.Filter{Conditions: []domain.Condition{srcABC, won, rich}}, fullLead, nil},
		{"the first failing is named", domain.Filter{Conditions: []domain.Condition{srcABC, web, won}}, fullLead, &web},
		{"the first of several failing", domain.Filter{Conditions: []domain.Condition{srcABC, won}}, emptyLead, &srcABC},
		{"any group: the second condition holds", domain.Filter{Any: [][]domain.Condition{{web, rich}}}, fullLead, nil},
		{"any group: none holds, its first stands for it", domain.Filter{Any: [][]domain.Condition{{web, rich}}}, emptyLead, &web},
		{"conditions are checked before groups", domain.Filter{Conditions: []domain.Condition{won}, Any: [][]domain.Condition{{web}}}, emptyLead, &won},
		{"the first failing group is named", domain.Filter{Any: [][]domain.Condition{{solar, web}, {hasEmail}, {rich}}}, domain.LeadView{
			Fields: domain.Fields{"interests": []string{"solar"}}}, &hasEmail},
		{"every group must hold", domain.Filter{Conditions: []domain.Condition{srcABC}, Any: [][]domain.Condition{{web, solar}, {hasEmail, rich}}}, fullLead, nil},
		{"an empty group is ignored", domain.Filter{Any: [][]domain.Condition{{}}}, emptyLead, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, failing := tc.f.FirstFailing(s, tc.lead)
			if tc.failing == nil {
				if failing || !reflect.DeepEqual(c, domain.Condition{}) {
					t.Fatalf("failing %v: %+v", failing, c)
				}
			} else if !failing || !reflect.DeepEqual(c, *tc.failing) {
				t.Fatalf("failing %v: %+v, want %+v", failing, c, *tc.failing)
			}
			if tc.f.Matches(s, tc.lead) != (tc.failing == nil) {
				t.Fatalf("Matches disagrees with FirstFailing")
			}
		})
	}
}

func TestValidateConditionsProblems(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		name  string
		conds []domain.Condition
		want  []fc
	}{
		{"unknown field", []domain.Condition{cond("colour", domain.OpEq, "red")}, []fc{{"conditions[0].field", domain.CodeUnknownField}}},
		{"index of the bad condition", []domain.Condition{cond("name", domain.OpEq, "x"), cond("name", domain.OpEq, "y"), cond("id", domain.OpEq, "z")},
			[]fc{{"conditions[2].field", domain.CodeUnknownField}}},
		{"unknown operator", []domain.Condition{cond("name", "like", "x")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"no operator", []domain.Condition{cond("name", "", "x")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"gt on text", []domain.Condition{cond("name", domain.OpGt, "a")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"lte on select", []domain.Condition{cond("source", domain.OpLte, "website")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"gte on status", []domain.Condition{cond("status", domain.OpGte, "new")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"lt on boolean", []domain.Condition{cond("consent", domain.OpLt, true)}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains on number", []domain.Condition{cond("budget", domain.OpContains, 1)}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains on select", []domain.Condition{cond("source", domain.OpContains, "web")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains on date", []domain.Condition{cond("callback_on", domain.OpContains, "2026")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains on status", []domain.Condition{cond("status", domain.OpContains, "w")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains on relation", []domain.Condition{cond("parent", domain.OpContains, "0000")}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"contains with a number", []domain.Condition{cond("name", domain.OpContains, 1)}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"between on text", []domain.Condition{cond("name", domain.OpBetween, []any{"a", "b"})}, []fc{{"conditions[0].op", domain.CodeInvalidValue}}},
		{"between of one", []domain.Condition{cond("budget", domain.OpBetween, []any{1})}, []fc{{"conditions[0].value", domain.CodeInvalidValue}}},
		{"between reversed dates", []domain.Condition{cond("callback_on", domain.OpBetween, []any{"2026-03-02", "2026-03-01"})},
			[]fc{{"conditions[0].value", domain.CodeInvalidValue}}},
		{"between with a bad bound", []domain.Condition{cond("budget", domain.OpBetween, []any{"x", 1})}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"unknown option", []domain.Condition{cond("source", domain.OpEq, "nope")}, []fc{{"conditions[0].value", domain.CodeUnknownOption}}},
		{"unknown option of a multiselect", []domain.Condition{cond("interests", domain.OpContains, "wind")}, []fc{{"conditions[0].value", domain.CodeUnknownOption}}},
		{"unknown option in a list", []domain.Condition{cond("source", domain.OpIn, []any{"website", "nope"})}, []fc{{"conditions[0].value", domain.CodeUnknownOption}}},
		{"multiselect eq with an array", []domain.Condition{cond("interests", domain.OpEq, []any{"solar"})}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"unknown status", []domain.Condition{cond("status", domain.OpEq, "gone")}, []fc{{"conditions[0].value", domain.CodeUnknownStatus}}},
		{"status not a string", []domain.Condition{cond("status", domain.OpNotIn, []any{1})}, []fc{{"conditions[0].value", domain.CodeUnknownStatus}}},
		{"in with an empty list", []domain.Condition{cond("source", domain.OpIn, []any{})}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"not_in with a scalar", []domain.Condition{cond("source", domain.OpNotIn, "website")}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"eq with null", []domain.Condition{cond("name", domain.OpEq, nil)}, []fc{{"conditions[0].value", domain.CodeWrongType}}},
		{"eq with a bad date", []domain.Condition{cond("created_at", domain.OpEq, "yesterday")}, []fc{{"conditions[0].value", domain.CodeInvalidFormat}}},
		{"not_empty with a value", []domain.Condition{cond("name", domain.OpNotEmpty, "x")}, []fc{{"conditions[0].value", domain.CodeInvalidValue}}},
		{"every problem", []domain.Condition{cond("colour", domain.OpEq, 1), cond("name", domain.OpGt, "a"), cond("source", domain.OpEq, "nope")},
			[]fc{{"conditions[0].field", domain.CodeUnknownField}, {"conditions[1].op", domain.CodeInvalidValue}, {"conditions[2].value", domain.CodeUnknownOption}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.ValidateConditions(tc.conds, s)
			if got := problems(t, err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("problems\n got  %v\n want %v", got, tc.want)
			}
		})
	}
	t.Run("valid conditions come back normalized", func(t *testing.T) {
		got := mustConditions(t, s,
			cond("budget", domain.OpBetween, []any{json.Number("1"), 2}),
			cond("seen_at", domain.OpGt, "2026-03-01T10:00:00+01:00"),
			cond("parent", domain.OpEq, strings.ToUpper(parentID)),
			cond("source", domain.OpIn, []string{"website"}),
			cond("email", domain.OpEmpty, nil),
			cond("status", domain.OpNeq, "won"),
		)
		want := []domain.Condition{
			cond("budget", domain.OpBetween, []any{1.0, 2.0}),
			cond("seen_at", domain.OpGt, "2026-03-01T09:00:00Z"),
			cond("parent", domain.OpEq, parentID),
			cond("source", domain.OpIn, []any{"website"}),
			cond("email", domain.OpEmpty, nil),
			cond("status", domain.OpNeq, "won"),
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %#v\nwant %#v", got, want)
		}
		if again := mustConditions(t, s, got...); !reflect.DeepEqual(again, got) {
			t.Fatalf("validating again changed them: %#v", again)
		}
	})
	t.Run("no conditions", func(t *testing.T) {
		got, err := domain.ValidateConditions(nil, s)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%#v %v", got, err)
		}
	})
}

func TestEqualityDefaults(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	f := domain.Filter{
		Conditions: []domain.Condition{
			cond("source", domain.OpEq, "partner-abc"),
			cond("status", domain.OpEq, "new"),
			cond("interests", domain.OpEq, "solar"),
			cond("budget", domain.OpEq, 10.0),
			cond("consent", domain.OpEq, false),
			cond("email", domain.OpNeq, "a@b.co"),
			cond("phone", domain.OpIn, []any{"+1 555 0100"}),
			cond("created_at", domain.OpEq, "2026-03-01T09:00:00Z"),
			cond("colour", domain.OpEq, "red"),
			cond("name", domain.OpEq, nil),
		},
		Any: [][]domain.Condition{{cond("site", domain.OpEq, "https://x.io")}},
	}
	want := map[string]any{"source": "partner-abc", "status": "new", "interests": []string{"solar"}, "budget": 10.0, "consent": false}
	if got := f.EqualityDefaults(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	if got := (domain.Filter{}).EqualityDefaults(s); got == nil || len(got) != 0 {
		t.Fatalf("no conditions: %#v", got)
	}
	t.Run("the defaults satisfy the filter", func(t *testing.T) {
		pinned := domain.Filter{Conditions: mustConditions(t, s, cond("source", domain.OpEq, "partner-abc"),
			cond("interests", domain.OpEq, "battery"), cond("status", domain.OpEq, "won"))}
		d := pinned.EqualityDefaults(s)
		status, _ := d["status"].(string)
		delete(d, "status")
		d["name"] = "Ada"
		fields, err := s.ValidateFields(d, domain.ModeCreate)
		if err != nil {
			t.Fatal(err)
		}
		if !pinned.Matches(s, domain.LeadView{Status: status, Fields: fields}) {
			t.Fatalf("a lead made of the defaults %v does not match", d)
		}
	})
}

func TestExplain(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		c    domain.Condition
		want string
	}{
		{cond("source", domain.OpEq, "partner-abc"), "source = Partner ABC (partner-abc)"},
		{cond("source", domain.OpNeq, "website"), "source ≠ Website (website)"},
		{cond("source", domain.OpIn, []any{"website", "partner-abc"}), "source is one of Website (website), Partner ABC (partner-abc)"},
		{cond("interests", domain.OpNotIn, []any{"solar"}), "interests is none of Solar (solar)"},
		{cond("interests", domain.OpContains, "battery"), "interests contains Battery (battery)"},
		{cond("name", domain.OpContains, "ada"), "name contains ada"},
		{cond("email", domain.OpEmpty, nil), "email is empty"},
		{cond("email", domain.OpNotEmpty, nil), "email is not empty"},
		{cond("budget", domain.OpGt, 100.0), "budget > 100"},
		{cond("budget", domain.OpGte, 100.5), "budget ≥ 100.5"},
		{cond("budget", domain.OpLt, 1e6), "budget < 1e+06"},
		{cond("budget", domain.OpLte, -1.0), "budget ≤ -1"},
		{cond("callback_on", domain.OpBetween, []any{"2026-03-01", "2026-03-31"}), "callback_on is between 2026-03-01 and 2026-03-31"},
		{cond("status", domain.OpIn, []any{"new", "won"}), "status is one of new, won"},
		{cond("consent", domain.OpEq, true), "consent = true"},
		{cond("source", domain.OpEq, "unlisted"), "source = unlisted"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := domain.DescribeCondition(s, tc.c); got != tc.want {
				t.Fatalf("got %q", got)
			}
		})
	}
	t.Run("one line per condition, one per group", func(t *testing.T) {
		f := domain.Filter{
			Conditions: []domain.Condition{cond("source", domain.OpEq, "partner-abc"), cond("status", domain.OpNeq, "lost")},
			Any: [][]domain.Condition{
				{cond("budget", domain.OpGt, 100.0), cond("consent", domain.OpEq, true)},
				{cond("email", domain.OpNotEmpty, nil)},
			},
		}
		want := []string{
			"source = Partner ABC (partner-abc)",
			"status ≠ lost",
			"any of: budget > 100 or consent = true",
			"any of: email is not empty",
		}
		if got := f.Explain(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %q", got)
		}
		if got := (domain.Filter{}).Explain(s); !reflect.DeepEqual(got, []string{domain.EveryLead}) {
			t.Fatalf("a filter without condition explains as %q, want only %q", got, domain.EveryLead)
		}
	})
}

func TestFilterDecisionTable(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	fid := uuid.MustParse("00000000-0000-0000-0000-0000000000f1")
	abc := []domain.Condition{cond("source", domain.OpEq, "partner-abc")}
	created := []domain.Event{domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "ABC", Conditions: abc, At: t0}}
	deleted := append(append([]domain.Event{}, created...), domain.FilterDeleted{FilterID: fid, At: t0})
	update := func(name string, conds []domain.Condition, anyOf [][]domain.Condition) func(domain.Filter) ([]domain.Event, error) {
		return func(f domain.Filter) ([]domain.Event, error) { return f.Update(name, "", conds, anyOf, s, t1) }
	}
	updateMatch := func(match domain.FilterMatch, conds []domain.Condition) func(domain.Filter) ([]domain.Event, error) {
		return func(f domain.Filter) ([]domain.Event, error) { return f.Update("ABC", match, conds, nil, s, t1) }
	}
	create := func(match domain.FilterMatch, conds []domain.Condition, anyOf [][]domain.Condition) func(domain.Filter) ([]domain.Event, error) {
		return func(domain.Filter) ([]domain.Event, error) {
			return domain.CreateFilter(fid, campID, acct, "All", match, conds, anyOf, s, t0)
		}
	}
	del := func(f domain.Filter) ([]domain.Event, error) { return f.Delete(t1) }
	runDecisions(t, domain.FoldFilter, []decision[domain.Filter]{
		{name: "create normalizes the conditions",
			when: func(domain.Filter) ([]domain.Event, error) {
				return domain.CreateFilter(fid, campID, acct, "Big", "", []domain.Condition{cond("budget", domain.OpGte, json.Number("1e3"))},
					[][]domain.Condition{{cond("status", domain.OpEq, "won"), cond("source", domain.OpIn, []string{"website"})}}, s, t0)
			},
			then: []domain.Event{domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "Big",
				Conditions: []domain.Condition{cond("budget", domain.OpGte, 1000.0)},
				Any:        [][]domain.Condition{{cond("status", domain.OpEq, "won"), cond("source", domain.OpIn, []any{"website"})}}, At: t0}}},
		{name: "create matching every lead has an empty list", when: create(domain.MatchAll, nil, nil),
			then: []domain.Event{domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "All", Conditions: []domain.Condition{}, At: t0}}},
		{name: "create without condition needs match all", when: create("", nil, nil),
			invalid: []fc{{"conditions", domain.CodeRequired}}},
		{name: "create of conditions without one", when: create(domain.MatchConditions, []domain.Condition{}, [][]domain.Condition{}),
			invalid: []fc{{"conditions", domain.CodeRequired}}},
		{name: "create of conditions with only a group", when: create(domain.MatchConditions, nil, [][]domain.Condition{abc}),
			then: []domain.Event{domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "All",
				Conditions: []domain.Condition{}, Any: [][]domain.Condition{abc}, At: t0}}},
		{name: "match all takes no condition", when: create(domain.MatchAll, abc, nil), invalid: []fc{{"match", domain.CodeInvalidValue}}},
		{name: "match all takes no group", when: create(domain.MatchAll, nil, [][]domain.Condition{abc}),
			invalid: []fc{{"match", domain.CodeInvalidValue}}},
		{name: "an unknown match", when: create("every", abc, nil), invalid: []fc{{"match", domain.CodeInvalidValue}}},
		{name: "create refuses bad names, conditions and groups",
			when: func(domain.Filter) ([]domain.Event, error) {
				return domain.CreateFilter(fid, campID, acct, "", "", []domain.Condition{cond("colour", domain.OpEq, "x")},
					[][]domain.Condition{{cond("name", domain.OpEq, "ok")}, {}, {cond("name", domain.OpGt, "a")}}, s, t0)
			},
			invalid: []fc{{"name", domain.CodeInvalidValue}, {"conditions[0].field", domain.CodeUnknownField},
				{"any[1]", domain.CodeInvalidValue}, {"any[2][0].op", domain.CodeInvalidValue}}},
		{name: "20,000 conditions", when: func(domain.Filter) ([]domain.Event, error) {
			return domain.CreateFilter(fid, campID, acct, "Huge", "", slices.Repeat([]domain.Condition{cond("name", domain.OpEq, "x")}, 20000), nil, s, t0)
		}, invalid: []fc{{"conditions", domain.CodeTooMany}}},
		{name: "51 conditions counting the any groups", given: created,
			when:    update("ABC", slices.Repeat(abc, 26), [][]domain.Condition{slices.Repeat(abc, 25)}),
			invalid: []fc{{"conditions", domain.CodeTooMany}}},
		{name: "50 conditions", given: created, when: update("ABC", slices.Repeat(abc, 50), nil),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "ABC", Conditions: slices.Repeat(abc, 50), At: t1}}},
		{name: "501 values of in, and text that is not text", given: created,
			when:    update("ABC\x00", []domain.Condition{cond("name", domain.OpIn, make([]any, 501)), cond("name", domain.OpContains, "\xff")}, nil),
			invalid: []fc{{"name", domain.CodeNUL}, {"conditions[0].value", domain.CodeTooMany}, {"conditions[1].value", domain.CodeInvalidUTF8}}},
		{name: "identical update is a no-op", given: created, when: update("ABC", abc, nil), then: nil},
		{name: "update to no condition needs match all", given: created, when: update("ABC", nil, nil),
			invalid: []fc{{"conditions", domain.CodeRequired}}},
		{name: "update to match all", given: created, when: updateMatch(domain.MatchAll, nil),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "ABC", Conditions: []domain.Condition{}, At: t1}}},
		{name: "update to match all keeping a condition", given: created, when: updateMatch(domain.MatchAll, abc),
			invalid: []fc{{"match", domain.CodeInvalidValue}}},
		{name: "update equal after normalization is a no-op", given: created,
			when: update("ABC", []domain.Condition{cond("source", domain.OpEq, "partner-abc")}, [][]domain.Condition{}), then: nil},
		{name: "rename", given: created, when: update("ABC 2", abc, nil),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "ABC 2", Conditions: abc, At: t1}}},
		{name: "new conditions", given: created, when: update("ABC", []domain.Condition{cond("status", domain.OpEq, "won")}, nil),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "ABC", Conditions: []domain.Condition{cond("status", domain.OpEq, "won")}, At: t1}}},
		{name: "same conditions moved into a group", given: created, when: update("ABC", nil, [][]domain.Condition{abc}),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "ABC", Conditions: []domain.Condition{}, Any: [][]domain.Condition{abc}, At: t1}}},
		{name: "conditions that print alike are still a change",
			given: []domain.Event{domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "F",
				Conditions: []domain.Condition{cond("name", domain.OpEq, "a"), cond("name", domain.OpEq, "b")}, At: t0}},
			when: update("F", []domain.Condition{cond("name", domain.OpEq, "a} {name eq b")}, nil),
			then: []domain.Event{domain.FilterUpdated{FilterID: fid, Name: "F",
				Conditions: []domain.Condition{cond("name", domain.OpEq, "a} {name eq b")}, At: t1}}},
		{name: "invalid update", given: created, when: update("ABC", []domain.Condition{cond("source", domain.OpEq, "nope")}, nil),
			invalid: []fc{{"conditions[0].value", domain.CodeUnknownOption}}},
		{name: "update of a missing filter", when: update("ABC", abc, nil), sentinel: domain.ErrFilterNotFound},
		{name: "update of a deleted filter", given: deleted, when: update("ABC", abc, nil), sentinel: domain.ErrFilterDeleted},
		{name: "delete", given: created, when: del, then: []domain.Event{domain.FilterDeleted{FilterID: fid, At: t1}}},
		{name: "deleting twice is a no-op", given: deleted, when: del, then: nil},
		{name: "delete of a missing filter", when: del, sentinel: domain.ErrFilterNotFound},
	})
	t.Run("evolution", func(t *testing.T) {
		history := append(append([]domain.Event{}, created...),
			domain.FilterUpdated{FilterID: fid, Name: "Won", Conditions: []domain.Condition{cond("status", domain.OpEq, "won")}, At: t1})
		f := domain.FoldFilter(history)
		want := domain.Filter{ID: fid, CampaignID: campID, AccountID: acct, Name: "Won",
			Conditions: []domain.Condition{cond("status", domain.OpEq, "won")}, Version: 2}
		if !reflect.DeepEqual(f, want) || !f.Exists() {
			t.Fatalf("got  %+v\nwant %+v", f, want)
		}
		gone := f.Evolve(domain.FilterDeleted{FilterID: fid, At: t1})
		if gone.Exists() || !gone.Deleted || gone.Version != 3 || f.Deleted {
			t.Fatalf("after delete %+v (before %+v)", gone, f)
		}
		if (domain.Filter{}).Exists() {
			t.Fatal("the zero filter exists")
		}
	})
}

func TestNarrowSchemaHidesWhatTheFilterExcludes(t *testing.T) {
	t.Parallel()
	s := domain.Schema{
		Fields: []domain.Field{
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "tags"},
		},
		Selects: []domain.Select{
			{Key: "source", Label: "Source", Options: []domain.Option{{Value: "abc", Label: "ABC"}, {Value: "xyz", Label: "XYZ"}}},
			{Key: "tags", Label: "Tags", Options: []domain.Option{{Value: "hot", Label: "Hot"}, {Value: "cold", Label: "Cold"}}},
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
	f := domain.Filter{Conditions: []domain.Condition{
		{Field: "source", Op: domain.OpEq, Value: "abc"},
		{Field: "tags", Op: domain.OpNotIn, Value: []any{"cold"}},
		{Field: "status", Op: domain.OpIn, Value: []any{"new", "won"}},
	}}
	got := f.NarrowSchema(s)
	opts := func(i int) []string {
		var out []string
		for _, o := range got.Selects[i].Options {
			out = append(out, o.Value)
		}
		return out
	}
	var statuses []string
	for _, st := range got.Statuses {
		statuses = append(statuses, st.Slug)
	}
	if fmt.Sprint(opts(0), opts(1), statuses) != "[abc] [hot] [new won]" {
		t.Fatalf("narrowed = %v %v %v, want [abc] [hot] [new won]", opts(0), opts(1), statuses)
	}
	if len(s.Selects[0].Options) != 2 {
		t.Fatal("NarrowSchema changed the schema it was given")
	}
	if all := (domain.Filter{}).NarrowSchema(s); len(all.Selects[0].Options) != 2 || len(all.Statuses) != 3 {
		t.Fatalf("a filter without conditions narrowed the schema: %+v", all)
	}
}
