package domain

import (
	"encoding/json"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Fields are a lead's field values, normalized: string, float64, bool or
// []string (multiselect). Dates are "2006-01-02", datetimes RFC 3339 in UTC.
type Fields map[string]any

// Mode says whether input is a whole new lead or a partial update.
type Mode int

// Validation modes.
const (
	ModeCreate Mode = iota // required fields must be present and non-null
	ModeUpdate             // partial; null clears an optional field
)

var phonePattern = regexp.MustCompile(`^\+?[0-9 ().\-]{3,32}$`)

// ValidateFields checks input (decoded with json.Decoder.UseNumber, or Go
// values) against the schema and returns the normalized values. In update
// mode a nil value means "clear". The error is a *ValidationError holding
// every problem.
func (s Schema) ValidateFields(input map[string]any, mode Mode) (Fields, error) {
	return s.ValidateFieldsOf(input, mode, nil)
}

// ValidateFieldsOf is ValidateFields for a lead that has current: a value
// of a retired field, option or status is refused unless the lead already
// has it.
func (s Schema) ValidateFieldsOf(input map[string]any, mode Mode, current Fields) (Fields, error) {
	v := &ValidationError{}
	out := Fields{}
	for _, key := range slices.Sorted(maps.Keys(input)) {
		f, ok := s.Field(key)
		if !ok {
			v.Add("fields."+key, CodeUnknownField, "the campaign has no field %s", quote(key))
			continue
		}
		raw := input[key]
		if raw == nil {
			if f.Required {
				v.Add("fields."+key, CodeRequired, "the field is required and cannot be null")
				continue
			}
			if mode == ModeUpdate {
				out[key] = nil
			}
			continue
		}
		val, ok := s.normalize(v, "fields."+key, f, raw)
		if ok && s.retiredValue(v, "fields."+key, f, val, current[key]) {
			out[key] = val
		}
	}
	if mode == ModeCreate {
		for _, f := range s.Fields {
			if _, present := input[f.Key]; f.Required && !f.Retired && !present {
				v.Add("fields."+f.Key, CodeRequired, "the field is required")
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// retiredValue reports whether val may be written to field f of a lead
// whose value is had: a retired field takes no new value, and a select
// takes no retired option the lead does not already have.
func (s Schema) retiredValue(v *ValidationError, path string, f Field, val, had any) bool {
	if sameValue(val, had) {
		return true
	}
	if f.Retired {
		v.Add(path, CodeRetired, "the field %s is retired: it keeps the values leads have and takes no new ones", quote(f.Key))
		return false
	}
	switch f.Type {
	case TypeSelect:
		if str, _ := val.(string); s.OptionRetired(f.Select, str) {
			v.Add(path, CodeRetired, "%s is a retired option of select %q (%s)", quote(str), f.Select, optionList(s.activeOptionValues(f.Select)))
			return false
		}
	case TypeMultiselect:
		kept, _ := toStrings(had) // []any when read back from the log
		items, _ := toStrings(val)
		for _, it := range items {
			if s.OptionRetired(f.Select, it) && !slices.Contains(kept, it) {
				v.Add(path, CodeRetired, "%s is a retired option of select %q (%s)", quote(it), f.Select, optionList(s.activeOptionValues(f.Select)))
				return false
			}
		}
	}
	return true
}

// NormalizeValue normalizes one value for field f, as ValidateFields does.
func (s Schema) NormalizeValue(path string, f Field, raw any) (any, error) {
	v := &ValidationError{}
	val, _ := s.normalize(v, path, f, raw)
	return val, v.Err()
}

func (s Schema) normalize(v *ValidationError, path string, f Field, raw any) (any, bool) {
	bad := func(code, format string, args ...any) (any, bool) {
		v.Add(path, code, format, args...)
		return nil, false
	}
	switch f.Type {
	case TypeNumber:
		n, ok := toFloat(raw)
		if !ok {
			return bad(CodeWrongType, "expected a number, got %s", jsonType(raw))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return bad(CodeInvalidValue, "the number must be finite")
		}
		return n, true
	case TypeBoolean:
		b, ok := raw.(bool)
		if !ok {
			return bad(CodeWrongType, "expected true or false, got %s", jsonType(raw))
		}
		return b, true
	case TypeMultiselect:
		items, ok := toStrings(raw)
		if !ok {
			return bad(CodeWrongType, "expected an array of option values, got %s", jsonType(raw))
		}
		if len(items) > MaxConditionValues {
			return bad(CodeTooMany, "at most %d values (this has %d)", MaxConditionValues, len(items))
		}
		out := []string{}
		seen := map[string]bool{}
		for _, it := range items {
			if !s.HasOption(f.Select, it) {
				return bad(CodeUnknownOption, "%s is not an option of select %q (%s)", quote(it), f.Select, optionList(s.optionValues(f.Select)))
			}
			if !seen[it] {
				seen[it] = true
				out = append(out, it)
			}
		}
		return out, true
	}
	str, ok := raw.(string)
	if !ok {
		return bad(CodeWrongType, "expected a string, got %s", jsonType(raw))
	}
	if code, reason := TextProblem(str); code != "" {
		return bad(code, "the text %s", reason)
	}
	switch f.Type {
	case TypeText, TypeTextarea:
		limit := MaxTextBytes
		if f.Type == TypeTextarea {
			limit = MaxTextareaBytes
		}
		if len(str) > limit {
			return bad(CodeTooLong, "at most %d bytes", limit)
		}
		return str, true
	case TypeEmail:
		str = strings.TrimSpace(str)
		a, err := mail.ParseAddress(str)
		if err != nil || a.Address != str || a.Name != "" || len(str) > 254 {
			return bad(CodeInvalidFormat, "%s is not an email address", quote(str))
		}
		return str, true
	case TypePhone:
		str = strings.TrimSpace(str)
		if !phonePattern.MatchString(str) || !strings.ContainsAny(str, "0123456789") {
			return bad(CodeInvalidFormat, "%s is not a phone number (digits, spaces, + ( ) . -)", quote(str))
		}
		return str, true
	case TypeURL:
		u, err := url.Parse(str)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(str) > 2048 {
			return bad(CodeInvalidFormat, "%s is not an absolute http or https URL", quote(str))
		}
		return str, true
	case TypeDate:
		d, err := time.Parse("2006-01-02", str)
		if err != nil {
			return bad(CodeInvalidFormat, "%s is not a date (YYYY-MM-DD)", quote(str))
		}
		return d.Format("2006-01-02"), true
	case TypeDatetime:
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return bad(CodeInvalidFormat, "%s is not an RFC 3339 date-time", quote(str))
		}
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			// Its UTC form would not parse again.
			return bad(CodeInvalidValue, "%s is outside the years 0000 to 9999 in UTC", quote(str))
		}
		return t.UTC().Format(time.RFC3339Nano), true
	case TypeSelect:
		if !s.HasOption(f.Select, str) {
			return bad(CodeUnknownOption, "%s is not an option of select %q (%s)", quote(str), f.Select, optionList(s.optionValues(f.Select)))
		}
		return str, true
	case TypeRelation:
		id, err := uuid.Parse(str)
		if err != nil {
			return bad(CodeInvalidFormat, "%s is not a lead id", quote(str))
		}
		return id.String(), true
	}
	return bad(CodeInvalidValue, "unsupported field type %q", f.Type)
}

// NormalizeStored restores the Go types of fields read back from JSON
// (arrays decode as []any, numbers as float64 or json.Number).
func NormalizeStored(f Fields) Fields {
	if f == nil {
		return nil
	}
	out := make(Fields, len(f))
	for k, v := range f {
		switch x := v.(type) {
		case []any:
			ss := make([]string, 0, len(x))
			for _, it := range x {
				if s, ok := it.(string); ok {
					ss = append(ss, s)
				}
			}
			out[k] = ss
		case json.Number:
			n, _ := x.Float64()
			out[k] = n
		default:
			out[k] = v
		}
	}
	return out
}

func toFloat(raw any) (float64, bool) {
	switch n := raw.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil || math.IsInf(f, 0) // out of range: a number, refused as not finite
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// sameValue reports whether a normalized value equals a lead's stored
// one, whose lists may be []any as JSON decodes them.
func sameValue(val, had any) bool {
	if a, ok := toStrings(val); ok {
		b, ok := toStrings(had)
		return ok && slices.Equal(a, b)
	}
	return reflect.DeepEqual(val, had)
}

func toStrings(raw any) ([]string, bool) {
	switch x := raw.(type) {
	case []string:
		return x, true
	case []any:
		out := make([]string, len(x))
		for i, it := range x {
			s, ok := it.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

func jsonType(raw any) string {
	switch raw.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64:
		return "a number"
	case []any, []string:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return "an unsupported value"
}

func optionList(vals []string) string {
	if len(vals) == 0 {
		return "it has no options yet"
	}
	if len(vals) > 10 {
		return strings.Join(vals[:10], ", ") + ", …"
	}
	return strings.Join(vals, ", ")
}

func itoa(i int) string { return strconv.Itoa(i) }
