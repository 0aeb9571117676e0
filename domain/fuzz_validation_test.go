package domain_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

// decodeObject decodes as the API does: numbers kept as json.Number.
func decodeObject(b []byte, v any) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v) == nil
}

// FuzzFieldValidation: any JSON object either validates or yields field
// errors with known codes, never a panic; what validates is a fixed point.
func FuzzFieldValidation(f *testing.F) {
	f.Add([]byte(`{"name":"Ada","email":"ada@example.com","budget":12.5}`))
	f.Add([]byte(`{"name":"Ada","interests":["solar","solar"],"source":"website"}`))
	f.Add([]byte(`{"name":null,"seen_at":"2026-03-01T10:00:00+01:00"}`))
	f.Add([]byte(`{"budget":1e309,"consent":"yes","parent":"x"}`))
	s := fullSchema()
	codes := map[string]bool{domain.CodeUnknownField: true, domain.CodeWrongType: true, domain.CodeUnknownOption: true,
		domain.CodeRequired: true, domain.CodeInvalidFormat: true, domain.CodeInvalidValue: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in map[string]any
		if !decodeObject(body, &in) {
			return
		}
		for _, mode := range []domain.Mode{domain.ModeCreate, domain.ModeUpdate} {
			out, err := s.ValidateFields(in, mode)
			if err != nil {
				v, ok := err.(*domain.ValidationError)
				if !ok || len(v.Errors) == 0 {
					t.Fatalf("error %v is not a validation error with problems", err)
				}
				for _, fe := range v.Errors {
					if !codes[fe.Code] || !strings.HasPrefix(fe.Field, "fields.") {
						t.Fatalf("problem %+v", fe)
					}
				}
				continue
			}
			again, err := s.ValidateFields(map[string]any(out), mode)
			if err != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("not a fixed point: %v\n%#v\n%#v", err, out, again)
			}
		}
	})
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
		if lines := filter.Explain(s); len(lines) != len(valid) {
			t.Fatalf("%d lines for %d conditions", len(lines), len(valid))
		}
	})
}

// FuzzTokenSecretFormat: the format check never panics, every generated
// secret passes it, and a secret never passes with one byte changed.
func FuzzTokenSecretFormat(f *testing.F) {
	f.Add("lsk_", make([]byte, 32), 5)
	f.Add("lsk_0000000000000000000000000000000000000000000000000", []byte("0123456789abcdef0123456789abcdef"), 10)
	f.Add("Bearer lsk_x", []byte{0xff, 0xfe}, 0)
	f.Fuzz(func(t *testing.T, s string, random []byte, at int) {
		_ = domain.ValidTokenSecretFormat(s)
		var seed [32]byte
		copy(seed[:], random)
		secret := domain.FormatTokenSecret(seed)
		if !domain.ValidTokenSecretFormat(secret) {
			t.Fatalf("generated %q does not validate", secret)
		}
		if at < 0 {
			at = -at
		}
		i := 4 + at%(len(secret)-4)
		b := []byte(secret)
		b[i] ^= 0x01
		if domain.ValidTokenSecretFormat(string(b)) && string(b) != secret {
			t.Fatalf("%q validates with byte %d changed", string(b), i)
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
