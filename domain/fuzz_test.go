package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

var knownCodes = map[string]bool{domain.CodeUnknownField: true, domain.CodeWrongType: true, domain.CodeUnknownOption: true,
	domain.CodeUnknownStatus: true, domain.CodeRequired: true, domain.CodeInvalidFormat: true, domain.CodeInvalidValue: true,
	domain.CodeNUL: true, domain.CodeInvalidUTF8: true, domain.CodeTooLong: true, domain.CodeTooMany: true}

// checkProblems fails unless err is a non-empty *ValidationError whose
// problems have known codes and paths starting with prefix.
func checkProblems(t *testing.T, err error, prefix string) {
	t.Helper()
	v, ok := err.(*domain.ValidationError)
	if !ok || len(v.Errors) == 0 {
		t.Fatalf("error %T %v is not a validation error with problems", err, err)
	}
	for _, fe := range v.Errors {
		if !knownCodes[fe.Code] || !strings.HasPrefix(fe.Field, prefix) || !strings.HasPrefix(fe.Message, fe.Field+": ") {
			t.Fatalf("problem %+v", fe)
		}
	}
}

// FuzzValidateFields: any JSON object validated against a schema with
// every field type never panics; what validates is a fixed point, also
// after being stored as JSON and read back.
func FuzzValidateFields(f *testing.F) {
	f.Add(`{"email":"a@b.co"}`)
	f.Add(`{"name":"Ada","budget":12.5,"consent":true,"interests":["solar","solar","battery"]}`)
	f.Add(`{"name":"Ada","seen_at":"2026-03-01T10:00:00.123456789+05:45","callback_on":"2024-02-29"}`)
	f.Add(`{"name":"Ada","parent":"URN:UUID:6F1C2F9E-8D3A-4B7E-9C55-2A1B3C4D5E6F","site":"HTTPS://x.io/a?b#c"}`)
	f.Add(`{"name":null,"email":null,"budget":-0,"phone":" +1 (555) 010-0100 "}`)
	f.Add(`{"name":"x","budget":1e309,"seen_at":"9999-12-31T23:59:59-23:59"}`)
	s := fullSchema()
	f.Fuzz(func(t *testing.T, body string) {
		var in map[string]any
		if !decodeObject([]byte(body), &in) || in == nil {
			return
		}
		for _, mode := range []domain.Mode{domain.ModeCreate, domain.ModeUpdate} {
			out, err := s.ValidateFields(in, mode)
			if err != nil {
				if out != nil {
					t.Fatalf("mode %d: output %v along with an error", mode, out)
				}
				checkProblems(t, err, "fields.")
				for _, fe := range err.(*domain.ValidationError).Errors {
					if fe.Code == domain.CodeUnknownStatus {
						t.Fatalf("a field problem with a status code: %+v", fe)
					}
				}
				continue
			}
			for k, v := range out {
				if _, known := s.Field(k); !known || (v == nil && mode == domain.ModeCreate) {
					t.Fatalf("mode %d: output %s=%#v", mode, k, v)
				}
			}
			if mode == domain.ModeCreate {
				for _, fd := range s.Fields {
					if _, ok := out[fd.Key]; fd.Required && !ok {
						t.Fatalf("required %s missing from a valid create", fd.Key)
					}
				}
			}
			again, err := s.ValidateFields(map[string]any(out), mode)
			if err != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("mode %d: not a fixed point: %v\n%#v\n%#v", mode, err, out, again)
			}
			stored, err := json.Marshal(out)
			if err != nil {
				t.Fatalf("mode %d: valid fields do not encode: %v", mode, err)
			}
			var back domain.Fields
			if err := json.Unmarshal(stored, &back); err != nil {
				t.Fatal(err)
			}
			if back = domain.NormalizeStored(back); !reflect.DeepEqual(back, out) {
				t.Fatalf("mode %d: stored form reads back as %#v, want %#v", mode, back, out)
			}
		}
	})
}

// oddLead holds values of the wrong types, as a corrupted or foreign
// record would.
var oddLead = domain.LeadView{Status: "won", Fields: domain.Fields{"budget": "lots", "callback_on": 5.0, "seen_at": true,
	"interests": "solar", "name": []string{"x"}, "consent": "yes", "source": 1.0, "email": []any{"a@b.co"}}}

// FuzzConditions: any JSON list of conditions is validated without a
// panic; valid conditions validate again to themselves (also after being
// stored), evaluate on any lead without a panic, agree with Matches and
// FirstFailing, and explain themselves one line each.
func FuzzConditions(f *testing.F) {
	f.Add(`[{"field":"source","op":"eq","value":"partner-abc"}]`)
	f.Add(`[{"field":"budget","op":"between","value":[1,2.5]},{"field":"status","op":"not_in","value":["won"]}]`)
	f.Add(`[{"field":"interests","op":"contains","value":"solar"},{"field":"email","op":"contains","value":"@example.com"}]`)
	f.Add(`[{"field":"created_at","op":"gte","value":"2026-03-01T10:00:00+01:00"},{"field":"phone","op":"empty"}]`)
	f.Add(`[{"field":"callback_on","op":"between","value":["2026-03-31","2026-03-01"]},{"field":"x","op":"eq"}]`)
	f.Add(`[{"field":"status","op":"in","value":[1,{},null]},{"field":"name","op":"like","value":"a"}]`)
	s := fullSchema()
	views := []domain.LeadView{fullLead, emptyLead, blankLead, oddLead}
	f.Fuzz(func(t *testing.T, body string) {
		var conds []domain.Condition
		if !decodeObject([]byte(body), &conds) {
			return
		}
		valid, err := domain.ValidateConditions(conds, s)
		if err != nil {
			checkProblems(t, err, "conditions[")
			return
		}
		if len(valid) != len(conds) {
			t.Fatalf("%d valid conditions from %d", len(valid), len(conds))
		}
		again, err := domain.ValidateConditions(valid, s)
		if err != nil || !reflect.DeepEqual(again, valid) {
			t.Fatalf("not a fixed point: %v\n%#v\n%#v", err, valid, again)
		}
		stored, err := json.Marshal(valid)
		if err != nil {
			t.Fatalf("valid conditions do not encode: %v", err)
		}
		var back []domain.Condition
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatal(err)
		}
		if back, err = domain.ValidateConditions(back, s); err != nil || !reflect.DeepEqual(back, valid) {
			t.Fatalf("stored conditions validate as %#v, %v; want %#v", back, err, valid)
		}
		filter := domain.Filter{Conditions: valid}
		grouped := domain.Filter{Any: [][]domain.Condition{valid}}
		for i, l := range views {
			all, some := true, false
			for _, c := range valid {
				holds := domain.EvalCondition(s, c, l)
				all = all && holds
				some = some || holds
			}
			if filter.Matches(s, l) != all {
				t.Fatalf("view %d: Matches disagrees with the conditions one by one", i)
			}
			if c, failing := filter.FirstFailing(s, l); failing == all || (failing && domain.EvalCondition(s, c, l)) {
				t.Fatalf("view %d: FirstFailing %+v %v, all hold: %v", i, c, failing, all)
			}
			if len(valid) > 0 && grouped.Matches(s, l) != some {
				t.Fatalf("view %d: an any group disagrees with its conditions", i)
			}
		}
		lines := filter.Explain(s)
		if len(valid) == 0 {
			if len(lines) != 1 || lines[0] != domain.EveryLead {
				t.Fatalf("a filter without condition explains as %q, want only %q", lines, domain.EveryLead)
			}
			lines = nil
		}
		if len(lines) != len(valid) {
			t.Fatalf("%d lines for %d conditions", len(lines), len(valid))
		}
		for i, line := range lines {
			if !strings.HasPrefix(line, valid[i].Field+" ") || strings.Contains(line, "\n") {
				t.Fatalf("line %d %q for %+v", i, line, valid[i])
			}
		}
		if len(valid) > 0 && len(grouped.Explain(s)) != 1 {
			t.Fatalf("a group explains as %q", grouped.Explain(s))
		}
	})
}

// FuzzTokenSecret: the format check never panics and accepts only
// well-formed secrets; every secret made of 32 bytes passes it, and fails
// it with any one character changed.
func FuzzTokenSecret(f *testing.F) {
	f.Add("lsk_", []byte{})
	f.Add("lsk_0000000000000000000000000000000000000000000000000", make([]byte, 32))
	f.Add("Bearer lsk_abc", []byte("0123456789abcdef0123456789abcdef"))
	f.Add(domain.FormatTokenSecret([32]byte{1, 2, 3}), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add("lsk_ééééééééééééééééééééééé", []byte("a longer input than thirty-two bytes, truncated"))
	f.Fuzz(func(t *testing.T, s string, random []byte) {
		if domain.ValidTokenSecretFormat(s) {
			if len(s) != domain.TokenSecretLen || !strings.HasPrefix(s, domain.TokenSecretPrefix) {
				t.Fatalf("%q validates", s)
			}
			for _, r := range s[len(domain.TokenSecretPrefix):] {
				if !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z') {
					t.Fatalf("%q validates with %q", s, r)
				}
			}
		}
		_, _ = domain.SecretDisplayPrefix(s), domain.SecretLast4(s)
		var seed [32]byte
		copy(seed[:], random)
		secret := domain.FormatTokenSecret(seed)
		if len(secret) != domain.TokenSecretLen || !strings.HasPrefix(secret, "lsk_") || !domain.ValidTokenSecretFormat(secret) {
			t.Fatalf("generated %q does not validate", secret)
		}
		if domain.SecretDisplayPrefix(secret) != secret[:8] || domain.SecretLast4(secret) != secret[len(secret)-4:] {
			t.Fatalf("display parts of %q", secret)
		}
		// One changed character, chosen by the input, never validates.
		i := len(domain.TokenSecretPrefix) + len(s)%(len(secret)-len(domain.TokenSecretPrefix))
		b := []byte(secret)
		b[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[(strings.IndexByte(
			"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", b[i])+1+len(random)%61)%62]
		if domain.ValidTokenSecretFormat(string(b)) {
			t.Fatalf("%q validates with position %d changed", b, i)
		}
	})
}
