package domain_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

// decodeObject decodes as the API does: numbers kept as json.Number.
func decodeObject(b []byte, v any) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v) == nil
}

// FuzzFilterConditions: any JSON list of conditions either validates or is
// refused; valid conditions evaluate on any lead without panicking and
// explain themselves one line each.
func FuzzFilterConditions(f *testing.F) {
	f.Add([]byte(`[{"field":"source","op":"eq","value":"partner-abc"}]`), []byte(`{"name":"Ada","source":"partner-abc"}`))
	f.Add([]byte(`[{"field":"budget","op":"between","value":[1,2]}]`), []byte(`{"budget":1.5}`))
	f.Add([]byte(`[{"field":"interests","op":"in","value":["solar"]},{"field":"status","op":"neq","value":"won"}]`), []byte(`{"interests":["solar"]}`))
	f.Add([]byte(`[{"field":"email","op":"empty"},{"field":"seen_at","op":"gt","value":"2026-01-01T00:00:00Z"}]`), []byte(`{}`))
	s := fullSchema()
	f.Fuzz(func(t *testing.T, condsJSON, leadJSON []byte) {
		var conds []domain.Condition
		if !decodeObject(condsJSON, &conds) {
			return
		}
		valid, err := domain.ValidateConditions(conds, s)
		if err != nil {
			if _, ok := err.(*domain.ValidationError); !ok {
				t.Fatalf("error %v is not a validation error", err)
			}
			return
		}
		var raw map[string]any
		if !decodeObject(leadJSON, &raw) {
			raw = map[string]any{}
		}
		fields, err := s.ValidateFields(raw, domain.ModeUpdate)
		if err != nil {
			fields = domain.Fields{}
		}
		for k, v := range fields {
			if v == nil {
				delete(fields, k)
			}
		}
		filter := domain.Filter{Conditions: valid}
		for _, status := range []string{"", "new", "won"} {
			lead := domain.LeadView{Status: status, Fields: fields, CreatedAt: t0, UpdatedAt: t0}
			all := true
			for _, c := range valid {
				all = all && domain.EvalCondition(s, c, lead)
			}
			if filter.Matches(s, lead) != all {
				t.Fatalf("Matches disagrees with the conditions one by one")
			}
		}
		lines := filter.Explain(s)
		if len(valid) == 0 {
			if len(lines) != 1 || lines[0] != domain.EveryLead {
				t.Fatalf("a filter without condition explains as %q, want only %q", lines, domain.EveryLead)
			}
			return
		}
		if len(lines) != len(valid) {
			t.Fatalf("%d lines for %d conditions", len(lines), len(valid))
		}
	})
}

// FuzzParseStreamID: parsing never panics and round-trips what it accepts.
func FuzzParseStreamID(f *testing.F) {
	f.Add("lead-00000000-0000-0000-0000-000000000001")
	f.Add("token-")
	f.Add("campaign-not-a-uuid")
	f.Fuzz(func(t *testing.T, s string) {
		kind, id, err := domain.ParseStreamID(s)
		if err != nil {
			return
		}
		if kind+"-"+id.String() != s {
			t.Fatalf("%q parsed as %s %s", s, kind, id)
		}
	})
}
