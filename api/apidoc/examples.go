package apidoc

import (
	"fmt"
	"strings"
	"time"

	"github.com/leadsvc/leadsvc/domain"
)

// Example values. An example is built from the schema and checked with the
// domain's own evaluation of the token's filter, so that every example the
// documents show is a value the service accepts for this token.

const (
	exampleLeadID   = "0f8fad5b-d9cb-469f-a165-70867728950e"
	exampleLeadID2  = "e4eaaaf2-d142-41b2-8c2b-7d4f6a1e9b35"
	exampleFileID   = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	exampleTokenID  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	exampleFilterID = "9a1c7e2b-3f4d-4c8e-8a6b-5d2e1f0c9b7a"
	exampleID       = "3d6f0a9e-52b1-4c67-9e1a-8f2b7c4d5e60"
	exampleTime     = "2026-03-02T09:30:00Z"
	exampleUpdated  = "2026-03-02T10:15:00Z"
	exampleRequest  = "5f0e6b3c2a7d4e9f8b1c0d2e3f4a5b6c"
)

// fieldExample is a value of fd that the token's filter allows, or false
// when there is none (a select without options, a filter nothing meets).
func (b *builder) fieldExample(fd *fieldDoc) (any, bool) {
	f := fd.Field
	var cands []any
	for _, c := range b.conds[f.Key] {
		switch c.Op {
		case domain.OpEq:
			cands = append(cands, c.Value)
		case domain.OpIn, domain.OpBetween:
			if l, ok := c.Value.([]any); ok && len(l) > 0 {
				cands = append(cands, l[0])
				if len(l) > 1 {
					cands = append(cands, l[1])
				}
			}
		case domain.OpGt, domain.OpGte, domain.OpLt, domain.OpLte:
			cands = append(cands, c.Value, step(c.Value, 1), step(c.Value, -1))
		case domain.OpContains:
			if f.Type != domain.TypeMultiselect {
				cands = append(cands, fmt.Sprint(c.Value))
			}
		}
	}
	switch f.Type {
	case domain.TypeSelect:
		cands = cands[:0]
		for _, o := range activeOptions(fd.Options) {
			cands = append(cands, o.Value)
		}
	case domain.TypeMultiselect:
		var must []string
		for _, c := range b.conds[f.Key] {
			if c.Op == domain.OpEq || c.Op == domain.OpContains {
				must = append(must, fmt.Sprint(c.Value))
			}
		}
		cands = nil
		if len(must) > 0 {
			cands = append(cands, must)
		}
		for _, o := range activeOptions(fd.Options) {
			cands = append(cands, append(append([]string{}, must...), o.Value))
		}
		cands = append(cands, []string{})
	default:
		cands = append(cands, sampleValues(f)...)
	}
	for _, v := range cands {
		if v == nil || !b.validFor(fd, v) {
			continue
		}
		if s, ok := v.([]string); ok && len(s) == 0 && fd.NeedPresent {
			continue
		}
		if b.holds(f.Key, v) {
			return v, true
		}
	}
	return nil, false
}

// validFor checks a candidate against the field's own rules (options,
// formats) through the domain's normalization.
func (b *builder) validFor(fd *fieldDoc, v any) bool {
	got, err := b.schema.NormalizeValue("x", fd.Field, v)
	if err != nil {
		return false
	}
	if fd.Type == domain.TypeMultiselect {
		for _, it := range got.([]string) {
			found := false
			for _, o := range activeOptions(fd.Options) {
				found = found || o.Value == it
			}
			if !found {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(got) == fmt.Sprint(v)
}

// step moves a number or a date by n units, to probe open bounds.
func step(v any, n int) any {
	switch x := v.(type) {
	case float64:
		return x + float64(n)
	case string:
		if len(x) == 10 {
			if t, err := parseDate(x); err == nil {
				return t.AddDate(0, 0, n).Format("2006-01-02")
			}
		}
	}
	return nil
}

// sampleValues are plausible values of f's type, most telling first; the
// later ones stand in when a filter excludes the first.
func sampleValues(f domain.Field) []any {
	key := strings.ToLower(f.Key)
	switch f.Type {
	case domain.TypeText:
		first := "Example " + strings.ToLower(f.Label)
		switch {
		case strings.Contains(key, "name"):
			first = "Ada Lovelace"
		case strings.Contains(key, "city"):
			first = "London"
		}
		return []any{first, "Grace Hopper", "x"}
	case domain.TypeTextarea:
		return []any{"Called back on Monday; interested in a quote.", "Prefers email."}
	case domain.TypeNumber:
		return []any{float64(1000), float64(1), float64(0), float64(250)}
	case domain.TypeBoolean:
		return []any{true, false}
	case domain.TypeDate:
		return []any{"2026-03-01", "2026-06-15", "2025-01-01"}
	case domain.TypeDatetime:
		return []any{"2026-03-01T09:30:00Z", "2026-06-15T14:00:00Z", "2025-01-01T08:00:00Z"}
	case domain.TypeEmail:
		return []any{"ada@example.com", "grace@example.org"}
	case domain.TypePhone:
		return []any{"+44 20 7946 0958", "+1 202 555 0143"}
	case domain.TypeURL:
		return []any{"https://example.com/offer", "https://example.org/"}
	case domain.TypeRelation:
		return []any{"1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"}
	}
	return nil
}

// statusExample is the first status the token's leads may have.
func (b *builder) statusExample() string {
	if sts := b.activeStatuses(); len(sts) > 0 {
		return sts[0].Slug
	}
	return "new"
}

// leadFieldsExample holds an example of every field that has one; in
// create mode it leaves out the fields the filter fills in.
func (b *builder) leadFieldsExample(fields []*fieldDoc, m mode) *M {
	out := obj()
	for _, fd := range fields {
		if !fd.HasExample || (m == modeCreate && fd.HasDefault) || (m != modeRead && fd.Retired) {
			continue
		}
		if m == modeUpdate && !fd.NeedCreate && fd.Type != domain.TypeSelect {
			continue // an update names what it changes
		}
		out.set(fd.Key, plainValue(fd.Example))
	}
	return out
}

func parseDate(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }
