package domain_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

func TestFieldNormalization(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	const leadID = "6f1c2f9e-8d3a-4b7e-9c55-2a1b3c4d5e6f"
	for _, tc := range []struct {
		name  string
		field string
		in    any
		want  any
	}{
		{"text kept as is", "name", "  Ada  ", "  Ada  "},
		{"text of 1000 bytes", "name", strings.Repeat("x", 1000), strings.Repeat("x", 1000)},
		{"textarea of 65536 bytes", "notes", strings.Repeat("x", 65536), strings.Repeat("x", 65536)},
		{"number from json.Number", "budget", json.Number("-12.5e1"), -125.0},
		{"number from int", "budget", 7, 7.0},
		{"number from int64", "budget", int64(1) << 40, float64(int64(1) << 40)},
		{"number from float32", "budget", float32(0.5), 0.5},
		{"number zero", "budget", 0.0, 0.0},
		{"boolean false", "consent", false, false},
		{"date", "callback_on", "2024-02-29", "2024-02-29"},
		{"datetime to UTC", "seen_at", "2026-03-01T10:00:00+01:00", "2026-03-01T09:00:00Z"},
		{"datetime keeps fractions", "seen_at", "2026-03-01T10:00:00.5-02:30", "2026-03-01T12:30:00.5Z"},
		{"email trimmed", "email", "\t a@b.co\n", "a@b.co"},
		{"email with plus and subdomain", "email", "ada+leads@mail.example.org", "ada+leads@mail.example.org"},
		{"phone with punctuation", "phone", " +1 (555) 010-0100 ", "+1 (555) 010-0100"},
		{"phone of three digits", "phone", "112", "112"},
		{"http url", "site", "http://example.com", "http://example.com"},
		{"https url with path and query", "site", "https://example.com/a?b=c#d", "https://example.com/a?b=c#d"},
		{"select option", "source", "partner-abc", "partner-abc"},
		{"multiselect deduplicated, order kept", "interests", []any{"battery", "solar", "battery"}, []string{"battery", "solar"}},
		{"multiselect from []string", "interests", []string{"solar"}, []string{"solar"}},
		{"multiselect empty", "interests", []any{}, []string{}},
		{"relation upper case", "parent", strings.ToUpper(leadID), leadID},
		{"relation urn", "parent", "urn:uuid:" + leadID, leadID},
		{"relation braces", "parent", "{" + leadID + "}", leadID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []domain.Mode{domain.ModeCreate, domain.ModeUpdate} {
				got, err := s.ValidateFields(map[string]any{"name": "Ada", tc.field: tc.in}, mode)
				if err != nil {
					t.Fatalf("mode %d: %v", mode, err)
				}
				if !reflect.DeepEqual(got[tc.field], tc.want) {
					t.Fatalf("mode %d: got %#v, want %#v", mode, got[tc.field], tc.want)
				}
				// What validates is a fixed point.
				again, err := s.ValidateFields(map[string]any(got), mode)
				if err != nil || !reflect.DeepEqual(again, got) {
					t.Fatalf("mode %d: normalizing again: %#v %v", mode, again, err)
				}
			}
			f, _ := s.Field(tc.field)
			v, err := s.NormalizeValue("x", f, tc.in)
			if err != nil || !reflect.DeepEqual(v, tc.want) {
				t.Fatalf("NormalizeValue: %#v %v", v, err)
			}
		})
	}
}

func TestFieldRefusals(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		name  string
		field string
		in    any
		code  string
	}{
		{"unknown field", "colour", "red", domain.CodeUnknownField},
		{"reserved attribute is not a field", "status", "won", domain.CodeUnknownField},
		{"text from number", "name", json.Number("1"), domain.CodeWrongType},
		{"text from object", "name", map[string]any{"a": 1}, domain.CodeWrongType},
		{"text of 1001 bytes", "name", strings.Repeat("x", 1001), domain.CodeTooLong},
		{"textarea of 65537 bytes", "notes", strings.Repeat("x", 65537), domain.CodeTooLong},
		{"text with NUL", "name", "a\x00b", domain.CodeNUL},
		{"textarea not UTF-8", "notes", "caf\xe9", domain.CodeInvalidUTF8},
		{"email with NUL", "email", "a\x00@b.co", domain.CodeNUL},
		{"too many multiselect values", "interests", make([]string, 501), domain.CodeTooMany},
		{"number from string", "budget", "12", domain.CodeWrongType},
		{"number from bool", "budget", false, domain.CodeWrongType},
		{"number not a number", "budget", json.Number("12abc"), domain.CodeWrongType},
		{"number NaN", "budget", math.NaN(), domain.CodeInvalidValue},
		{"number infinite", "budget", math.Inf(-1), domain.CodeInvalidValue},
		{"number overflowing", "budget", json.Number("1e309"), domain.CodeInvalidValue},
		{"boolean from string", "consent", "true", domain.CodeWrongType},
		{"boolean from number", "consent", 1, domain.CodeWrongType},
		{"date with slashes", "callback_on", "2026/03/01", domain.CodeInvalidFormat},
		{"date without padding", "callback_on", "2026-3-1", domain.CodeInvalidFormat},
		{"date 30 February", "callback_on", "2026-02-30", domain.CodeInvalidFormat},
		{"date with time", "callback_on", "2026-03-01T00:00:00Z", domain.CodeInvalidFormat},
		{"datetime without zone", "seen_at", "2026-03-01T10:00:00", domain.CodeInvalidFormat},
		{"datetime date only", "seen_at", "2026-03-01", domain.CodeInvalidFormat},
		{"datetime hour 25", "seen_at", "2026-03-01T25:00:00Z", domain.CodeInvalidFormat},
		{"datetime after year 9999 in UTC", "seen_at", "9999-12-31T23:30:00-01:00", domain.CodeInvalidValue},
		{"datetime before year 0 in UTC", "seen_at", "0000-01-01T00:30:00+01:00", domain.CodeInvalidValue},
		{"email without at", "email", "ada.example.com", domain.CodeInvalidFormat},
		{"email with display name", "email", "Ada <ada@example.com>", domain.CodeInvalidFormat},
		{"email quoted local part", "email", `"ada"@example.com`, domain.CodeInvalidFormat},
		{"email over 254 bytes", "email", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", domain.CodeInvalidFormat},
		{"email from number", "email", 1.0, domain.CodeWrongType},
		{"phone with letters", "phone", "+1 555 CALL", domain.CodeInvalidFormat},
		{"phone too short", "phone", "12", domain.CodeInvalidFormat},
		{"phone without digits", "phone", "+() .-", domain.CodeInvalidFormat},
		{"phone over 33 characters", "phone", "+" + strings.Repeat("1", 33), domain.CodeInvalidFormat},
		{"url ftp", "site", "ftp://example.com", domain.CodeInvalidFormat},
		{"url without host", "site", "https://", domain.CodeInvalidFormat},
		{"url without scheme", "site", "example.com", domain.CodeInvalidFormat},
		{"url javascript", "site", "javascript:alert(1)", domain.CodeInvalidFormat},
		{"url over 2048 bytes", "site", "https://example.com/" + strings.Repeat("a", 2030), domain.CodeInvalidFormat},
		{"url unparsable", "site", "http://[::1", domain.CodeInvalidFormat},
		{"select unknown option", "source", "partner-nope", domain.CodeUnknownOption},
		{"select option label is not its value", "source", "Website", domain.CodeUnknownOption},
		{"select from array", "source", []any{"website"}, domain.CodeWrongType},
		{"multiselect from string", "interests", "solar", domain.CodeWrongType},
		{"multiselect with a number", "interests", []any{"solar", 1.0}, domain.CodeWrongType},
		{"multiselect unknown option", "interests", []string{"solar", "wind"}, domain.CodeUnknownOption},
		{"relation not a uuid", "parent", "lead-1", domain.CodeInvalidFormat},
		{"relation from number", "parent", 1, domain.CodeWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []domain.Mode{domain.ModeCreate, domain.ModeUpdate} {
				out, err := s.ValidateFields(map[string]any{"name": "Ada", tc.field: tc.in}, mode)
				if err == nil {
					t.Fatalf("mode %d: accepted as %#v", mode, out[tc.field])
				}
				if out != nil {
					t.Fatalf("mode %d: output %v along with an error", mode, out)
				}
				if got := problems(t, err); !reflect.DeepEqual(got, []fc{{"fields." + tc.field, tc.code}}) {
					t.Fatalf("mode %d: problems %v, want %s on fields.%s", mode, got, tc.code, tc.field)
				}
			}
		})
	}
	t.Run("messages do not echo long input", func(t *testing.T) {
		_, err := s.ValidateFields(map[string]any{"name": "Ada", "email": strings.Repeat("x", 500)}, domain.ModeCreate)
		if err == nil || strings.Contains(err.Error(), strings.Repeat("x", 100)) {
			t.Fatalf("message %v", err)
		}
	})
	t.Run("unknown option lists the options", func(t *testing.T) {
		_, err := s.ValidateFields(map[string]any{"name": "Ada", "source": "nope"}, domain.ModeCreate)
		if err == nil || !strings.Contains(err.Error(), "website, partner-abc") {
			t.Fatalf("message %v", err)
		}
	})
}

func TestFieldModes(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	for _, tc := range []struct {
		name string
		in   map[string]any
		mode domain.Mode
		want domain.Fields // nil when invalid is set
		bad  []fc
	}{
		{name: "create needs required fields", in: map[string]any{"budget": 1}, mode: domain.ModeCreate,
			bad: []fc{{"fields.name", domain.CodeRequired}}},
		{name: "create refuses null for a required field", in: map[string]any{"name": nil}, mode: domain.ModeCreate,
			bad: []fc{{"fields.name", domain.CodeRequired}}},
		{name: "create drops null optional fields", in: map[string]any{"name": "Ada", "email": nil, "interests": nil}, mode: domain.ModeCreate,
			want: domain.Fields{"name": "Ada"}},
		{name: "create of nothing but required", in: map[string]any{"name": ""}, mode: domain.ModeCreate,
			want: domain.Fields{"name": ""}},
		{name: "update is partial", in: map[string]any{"budget": 1}, mode: domain.ModeUpdate,
			want: domain.Fields{"budget": 1.0}},
		{name: "update of nothing", in: map[string]any{}, mode: domain.ModeUpdate, want: domain.Fields{}},
		{name: "update with nil input", in: nil, mode: domain.ModeUpdate, want: domain.Fields{}},
		{name: "update null clears optional fields", in: map[string]any{"email": nil, "interests": nil, "budget": nil}, mode: domain.ModeUpdate,
			want: domain.Fields{"email": nil, "interests": nil, "budget": nil}},
		{name: "update cannot clear a required field", in: map[string]any{"name": nil}, mode: domain.ModeUpdate,
			bad: []fc{{"fields.name", domain.CodeRequired}}},
		{name: "every problem at once, sorted by key", mode: domain.ModeCreate,
			in: map[string]any{"site": "x", "budget": "1", "colour": "red", "consent": "no", "interests": []any{"wind"}},
			bad: []fc{
				{"fields.budget", domain.CodeWrongType},
				{"fields.colour", domain.CodeUnknownField},
				{"fields.consent", domain.CodeWrongType},
				{"fields.interests", domain.CodeUnknownOption},
				{"fields.site", domain.CodeInvalidFormat},
				{"fields.name", domain.CodeRequired},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ValidateFields(tc.in, tc.mode)
			if tc.bad != nil {
				if p := problems(t, err); !reflect.DeepEqual(p, tc.bad) {
					t.Fatalf("problems\n got  %v\n want %v", p, tc.bad)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v %v, want %#v", got, err, tc.want)
			}
		})
	}
	t.Run("a schema without required fields accepts an empty create", func(t *testing.T) {
		got, err := minimalSchema().ValidateFields(map[string]any{}, domain.ModeCreate)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%#v %v", got, err)
		}
	})
}

func TestNormalizeValueAndStored(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	t.Run("NormalizeValue names the given path", func(t *testing.T) {
		f, _ := s.Field("budget")
		v, err := s.NormalizeValue("conditions[3].value", f, "many")
		if v != nil {
			t.Fatalf("value %v along with an error", v)
		}
		if got := problems(t, err); !reflect.DeepEqual(got, []fc{{"conditions[3].value", domain.CodeWrongType}}) {
			t.Fatalf("problems %v", got)
		}
	})
	t.Run("NormalizeValue of an unknown type", func(t *testing.T) {
		_, err := s.NormalizeValue("p", domain.Field{Key: "x", Type: "colour"}, "red")
		if got := problems(t, err); !reflect.DeepEqual(got, []fc{{"p", domain.CodeInvalidValue}}) {
			t.Fatalf("problems %v", got)
		}
	})
	t.Run("NormalizeStored", func(t *testing.T) {
		if domain.NormalizeStored(nil) != nil {
			t.Fatal("nil did not stay nil")
		}
		got := domain.NormalizeStored(domain.Fields{
			"a": []any{"x", 1.0, "y", nil}, "n": json.Number("2.5"), "s": "str", "b": true, "f": 3.0, "z": nil, "e": []any{},
		})
		want := domain.Fields{"a": []string{"x", "y"}, "n": 2.5, "s": "str", "b": true, "f": 3.0, "z": nil, "e": []string{}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %#v\nwant %#v", got, want)
		}
	})
	in := map[string]any{
		"name": "Ada", "notes": "x\ny", "budget": json.Number("1200"), "consent": false, "callback_on": "2026-03-02",
		"seen_at": "2026-03-01T10:00:00.123+01:00", "email": "a@b.co", "phone": "+1 555 0100", "site": "https://x.io",
		"source": "website", "interests": []any{"solar", "battery"}, "parent": "00000000-0000-0000-0000-000000000001",
	}
	valid, err := s.ValidateFields(in, domain.ModeCreate)
	if err != nil {
		t.Fatal(err)
	}
	for _, useNumber := range []bool{false, true} {
		name := "round trip through JSON"
		if useNumber {
			name += " with UseNumber"
		}
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(valid)
			if err != nil {
				t.Fatal(err)
			}
			d := json.NewDecoder(bytes.NewReader(b))
			if useNumber {
				d.UseNumber()
			}
			var back domain.Fields
			if err := d.Decode(&back); err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(back, valid) {
				t.Fatal("decoding alone restored the Go types; the test proves nothing")
			}
			if got := domain.NormalizeStored(back); !reflect.DeepEqual(got, valid) {
				t.Fatalf("got  %#v\nwant %#v", got, valid)
			}
			// Stored values validate again to themselves.
			again, err := s.ValidateFields(map[string]any(domain.NormalizeStored(back)), domain.ModeCreate)
			if err != nil || !reflect.DeepEqual(again, valid) {
				t.Fatalf("revalidating stored values: %#v %v", again, err)
			}
		})
	}
}
