package apidoc

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/leadsvc/leadsvc/domain"
)

// mode is the direction a lead's fields travel in.
type mode int

const (
	modeRead   mode = iota // a lead as the API answers it
	modeCreate             // POST /v1/leads
	modeUpdate             // PATCH /v1/leads/{id}
)

// fieldDoc is one field as the documents show it: its schema in each mode
// and what the token's filter makes of it.
type fieldDoc struct {
	domain.Field
	// Options are the select options a value may take, after the filter.
	Options []domain.Option
	// Scope says in words what the token's filter requires of the field.
	Scope []string
	// Default is the value a create fills in when the field is omitted.
	Default     any
	HasDefault  bool
	NeedCreate  bool // a create must give it
	NeedPresent bool // every lead the token sees has it
	Example     any
	HasExample  bool
	// Narrowed says that the filter narrows the field's values.
	Narrowed bool
}

// holdsWhenMissing reports whether condition c holds for a lead without
// the value, using the domain's own evaluation.
func (b *builder) holdsWhenMissing(c domain.Condition) bool {
	return domain.EvalCondition(b.schema, c, domain.LeadView{Fields: domain.Fields{}})
}

// holds reports whether every condition on key holds for value v (nil:
// missing), by the domain's evaluation.
func (b *builder) holds(key string, v any) bool {
	view := domain.LeadView{Fields: domain.Fields{}}
	if key == domain.AttrStatus {
		s, _ := v.(string)
		view.Status = s
	} else if v != nil {
		view.Fields[key] = v
	}
	for _, c := range b.conds[key] {
		if !domain.EvalCondition(b.schema, c, view) {
			return false
		}
	}
	return true
}

// fields documents the campaign's fields under the token's filter.
func (b *builder) fields() []*fieldDoc {
	var out []*fieldDoc
	for _, f := range b.schema.Fields {
		fd := &fieldDoc{Field: f}
		for _, c := range b.conds[f.Key] {
			fd.Scope = append(fd.Scope, domain.DescribeCondition(b.schema, c))
			fd.Narrowed = true
			if !b.holdsWhenMissing(c) {
				fd.NeedPresent = true
			}
		}
		if v, ok := b.defaults[f.Key]; ok {
			fd.Default, fd.HasDefault = v, true
		}
		fd.NeedCreate = (f.Required || fd.NeedPresent) && !fd.HasDefault
		if f.Type == domain.TypeSelect || f.Type == domain.TypeMultiselect {
			fd.Options = b.s.Token.Scope.Options(b.schema, f.Key)
		}
		fd.Example, fd.HasExample = b.fieldExample(fd)
		out = append(out, fd)
	}
	return out
}

// statuses are the statuses a lead of the token may have, retired ones
// included: leads keep them.
func (b *builder) statuses() []domain.Status { return b.shown.Statuses }

// activeStatuses are the statuses a write may set.
func (b *builder) activeStatuses() []domain.Status {
	var out []domain.Status
	for _, st := range b.shown.Statuses {
		if !st.Retired {
			out = append(out, st)
		}
	}
	return out
}

// activeOptions are the options a write may use.
func activeOptions(opts []domain.Option) []domain.Option {
	var out []domain.Option
	for _, o := range opts {
		if !o.Retired {
			out = append(out, o)
		}
	}
	return out
}

// retiredWords marks a retired item's label for readers.
const retiredWords = " (retired: kept on the leads that have it, refused for new writes)"

// statusNeededOnCreate: a create must name its status when the one it
// would get otherwise (the filter's default or the campaign's first) is
// outside the filter.
func (b *builder) statusNeededOnCreate() bool {
	def := b.schema.DefaultStatus()
	if v, ok := b.defaults[domain.AttrStatus].(string); ok {
		def = v
	}
	return !b.shown.HasStatus(def)
}

// enumSchema is a string enum with the labels alongside, as Redocly's
// x-enumDescriptions and as text for every other reader.
func enumSchema(values []string, labels []string, what string) *M {
	if len(values) == 0 {
		return obj("not", obj(), "description", "No "+what+" is allowed.")
	}
	enum := make([]any, len(values))
	desc := obj()
	var lines []string
	for i, v := range values {
		enum[i] = v
		desc.set(v, labels[i])
		lines = append(lines, fmt.Sprintf("- `%s`: %s", v, labels[i]))
	}
	return obj("type", "string", "enum", enum, "x-enumDescriptions", desc,
		"description", "One of:\n"+strings.Join(lines, "\n"))
}

func optionValues(opts []domain.Option) (vals, labels []string) {
	for _, o := range opts {
		label := o.Label
		if o.Retired {
			label += retiredWords
		}
		vals, labels = append(vals, o.Value), append(labels, label)
	}
	return vals, labels
}

// optionsFor are the options a value of fd takes in mode m: a lead read
// may hold a retired one, a write may not.
func (b *builder) optionsFor(fd *fieldDoc, m mode) []domain.Option {
	if m == modeRead {
		return fd.Options
	}
	return activeOptions(fd.Options)
}

// fieldSchema is the JSON Schema of a field's value in mode m.
func (b *builder) fieldSchema(fd *fieldDoc, m mode) *M {
	f := fd.Field
	var s *M
	switch f.Type {
	case domain.TypeText:
		s = obj("type", "string", "maxLength", 1000)
	case domain.TypeTextarea:
		s = obj("type", "string", "maxLength", 65536)
	case domain.TypeNumber:
		s = obj("type", "number")
	case domain.TypeBoolean:
		s = obj("type", "boolean")
	case domain.TypeDate:
		s = obj("type", "string", "format", "date")
	case domain.TypeDatetime:
		s = obj("type", "string", "format", "date-time")
	case domain.TypeEmail:
		s = obj("type", "string", "format", "email", "maxLength", 254)
	case domain.TypePhone:
		s = obj("type", "string", "maxLength", 64)
	case domain.TypeURL:
		s = obj("type", "string", "format", "uri", "maxLength", 2048)
	case domain.TypeSelect:
		vals, labels := optionValues(b.optionsFor(fd, m))
		s = enumSchema(vals, labels, "option")
	case domain.TypeMultiselect:
		vals, labels := optionValues(b.optionsFor(fd, m))
		s = obj("type", "array", "items", enumSchema(vals, labels, "option"))
	case domain.TypeRelation:
		s = obj("type", "string", "format", "uuid")
		if f.Campaign != nil {
			target := "a lead of campaign " + f.Campaign.String()
			if b.camp != nil && *f.Campaign == b.camp.ID {
				target = "another lead of this campaign"
			}
			s.set("x-leadsvc-relation", obj("campaign_id", f.Campaign.String()))
			s.set("description", "The id of "+target+" that this token can see.")
		}
	default:
		s = obj()
	}
	var all []any
	for _, c := range b.conds[f.Key] {
		if extra := b.constraint(f, c); extra != nil {
			all = append(all, extra)
		}
	}
	if len(all) > 0 {
		s.set("allOf", all)
	}
	title := f.Label
	s = prepend(s, "title", title)
	desc := []string{typeWords(f)}
	if d, ok := s.get("description").(string); ok {
		desc = append(desc, d)
	}
	if len(fd.Scope) > 0 {
		desc = append(desc, "The token's filter requires: "+strings.Join(fd.Scope, "; ")+".")
	}
	if m == modeCreate && fd.HasDefault {
		desc = append(desc, fmt.Sprintf("When omitted, a create fills in %s (from the token's filter).", jsonText(fd.Default)))
		s.set("default", plainValue(fd.Default))
	}
	if m == modeCreate && f.Required && !fd.HasDefault {
		desc = append(desc, "Required.")
	}
	s.set("description", strings.Join(desc, "\n\n"))
	if fd.HasExample {
		s.set("examples", []any{plainValue(fd.Example)})
	}
	nullable := m != modeRead && !f.Required && !fd.NeedPresent
	if nullable {
		if m == modeUpdate {
			s.set("description", s.get("description").(string)+"\n\nnull clears the value.")
		}
		outer := obj()
		for _, k := range []string{"title", "description", "default", "examples"} {
			outer.set(k, s.get(k))
			s.del(k)
		}
		return outer.set("anyOf", []any{s, obj("type", "null")})
	}
	return s
}

func prepend(s *M, k string, v any) *M {
	out := obj(k, v)
	for _, e := range s.kv {
		out.set(e.k, e.v)
	}
	return out
}

// typeWords says what a value of f looks like.
func typeWords(f domain.Field) string {
	switch f.Type {
	case domain.TypeText:
		return "Text, at most 1000 bytes."
	case domain.TypeTextarea:
		return "Long text, at most 65536 bytes."
	case domain.TypeNumber:
		return "A finite number."
	case domain.TypeBoolean:
		return "true or false."
	case domain.TypeDate:
		return "A date, YYYY-MM-DD."
	case domain.TypeDatetime:
		return "An RFC 3339 date-time; answered in UTC."
	case domain.TypeEmail:
		return "An email address (a bare address, no display name)."
	case domain.TypePhone:
		return "A phone number: 3 to 32 digits, spaces, + ( ) . or -, with at least one digit."
	case domain.TypeURL:
		return "An absolute http or https URL, at most 2048 bytes."
	case domain.TypeSelect:
		return fmt.Sprintf("One option of the select %q.", f.Select)
	case domain.TypeMultiselect:
		return fmt.Sprintf("Options of the select %q (repeats are dropped).", f.Select)
	case domain.TypeRelation:
		return "A lead id."
	}
	return ""
}

// constraint is the JSON Schema of one filter condition on field f, or
// nil when the condition is only said in words: JSON Schema cannot
// compare dates, and datetime and relation values are normalized by the
// service, so a literal comparison would refuse values it accepts.
func (b *builder) constraint(f domain.Field, c domain.Condition) *M {
	list, _ := c.Value.([]any)
	switch f.Type {
	case domain.TypeSelect:
		return nil // the option enum is narrowed instead
	case domain.TypeMultiselect:
		switch c.Op {
		case domain.OpEq, domain.OpContains:
			return obj("contains", obj("const", c.Value))
		case domain.OpIn:
			return obj("contains", obj("enum", list))
		case domain.OpEmpty:
			return obj("maxItems", 0)
		case domain.OpNotEmpty:
			return obj("minItems", 1)
		}
		return nil // neq and not_in narrow the items' enum
	case domain.TypeDatetime, domain.TypeRelation:
		return nil
	case domain.TypeDate:
		switch c.Op {
		case domain.OpEq:
			return obj("const", c.Value)
		case domain.OpNeq:
			return obj("not", obj("const", c.Value))
		case domain.OpIn:
			return obj("enum", list)
		case domain.OpNotIn:
			return obj("not", obj("enum", list))
		case domain.OpEmpty:
			return obj("not", obj())
		}
		return nil
	}
	textual := f.Type != domain.TypeNumber && f.Type != domain.TypeBoolean
	switch c.Op {
	case domain.OpEq:
		return obj("const", plainValue(c.Value))
	case domain.OpNeq:
		return obj("not", obj("const", plainValue(c.Value)))
	case domain.OpIn:
		return obj("enum", plainList(list))
	case domain.OpNotIn:
		return obj("not", obj("enum", plainList(list)))
	case domain.OpContains:
		if p, ok := containsPattern(fmt.Sprint(c.Value)); ok {
			return obj("pattern", p)
		}
	case domain.OpEmpty:
		if textual {
			return obj("const", "")
		}
		return obj("not", obj())
	case domain.OpNotEmpty:
		if textual {
			return obj("minLength", 1)
		}
	case domain.OpGt:
		return obj("exclusiveMinimum", plainValue(c.Value))
	case domain.OpGte:
		return obj("minimum", plainValue(c.Value))
	case domain.OpLt:
		return obj("exclusiveMaximum", plainValue(c.Value))
	case domain.OpLte:
		return obj("maximum", plainValue(c.Value))
	case domain.OpBetween:
		if len(list) == 2 {
			return obj("minimum", plainValue(list[0]), "maximum", plainValue(list[1]))
		}
	}
	return nil
}

// containsPattern is a case-insensitive substring pattern that reads the
// same in ECMAScript and RE2: letters as [aA], everything else in a
// bracket. Only ASCII is turned into a pattern; beyond it case folding
// differs between engines, and the words say it.
func containsPattern(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		if r > unicode.MaxASCII || r < 0x20 {
			return "", false
		}
		switch {
		case unicode.IsLetter(r):
			b.WriteString("[" + string(unicode.ToLower(r)) + string(unicode.ToUpper(r)) + "]")
		case unicode.IsDigit(r) || r == ' ':
			b.WriteRune(r)
		case strings.ContainsRune(`]\^-`, r):
			b.WriteString(`[\` + string(r) + "]")
		default:
			b.WriteString("[" + string(r) + "]")
		}
	}
	return b.String(), true
}

// plainValue makes a normalized domain value print as JSON would: whole
// numbers as integers.
func plainValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		return plainList(x)
	}
	return v
}

func plainList(in []any) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = plainValue(v)
	}
	return out
}

// jsonText renders a value the way a client writes it in JSON.
func jsonText(v any) string {
	j, err := marshalJSON(plainValue(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}
