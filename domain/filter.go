package domain

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Op is a filter condition operator.
type Op string

// The operators a condition may use.
const (
	OpEq       Op = "eq"
	OpNeq      Op = "neq"
	OpIn       Op = "in"
	OpNotIn    Op = "not_in"
	OpContains Op = "contains"
	OpEmpty    Op = "empty"
	OpNotEmpty Op = "not_empty"
	OpGt       Op = "gt"
	OpGte      Op = "gte"
	OpLt       Op = "lt"
	OpLte      Op = "lte"
	OpBetween  Op = "between"
)

// Ops lists every operator, in documentation order.
var Ops = []Op{OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpEmpty, OpNotEmpty, OpGt, OpGte, OpLt, OpLte, OpBetween}

// Lead attributes a condition may name besides schema fields.
const (
	AttrStatus    = "status"
	AttrCreatedAt = "created_at"
	AttrUpdatedAt = "updated_at"
)

// Condition is one test on a lead: {field, op, value}.
type Condition struct {
	Field string `json:"field"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// LeadView is what a filter sees of a lead.
type LeadView struct {
	Status    string
	Fields    Fields
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FilterMatch says which leads of its campaign a filter lets through.
type FilterMatch string

// The matches a filter can have. Breadth is always explicit: a filter
// with no condition lets every lead through, so it is made only when the
// request says MatchAll, never because a list came out empty.
const (
	MatchConditions FilterMatch = "conditions" // the leads its conditions hold for
	MatchAll        FilterMatch = "all"        // every lead of the campaign; no condition
)

// Filter is the filter aggregate: the data slice a partner may see. All
// Conditions must hold, and in each group of Any at least one must hold.
type Filter struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	AccountID  uuid.UUID
	Name       string
	Conditions []Condition
	Any        [][]Condition
	Deleted    bool
	Version    int64
}

// Exists reports whether the filter was created and not deleted.
func (f Filter) Exists() bool { return f.Version > 0 && !f.Deleted }

// Match is MatchAll for a filter without any condition, MatchConditions
// otherwise.
func (f Filter) Match() FilterMatch {
	if len(f.Conditions) == 0 && len(f.Any) == 0 {
		return MatchAll
	}
	return MatchConditions
}

// Evolve applies one event.
func (f Filter) Evolve(e Event) Filter {
	switch e := e.(type) {
	case FilterCreated:
		f.ID, f.CampaignID, f.AccountID, f.Name, f.Conditions, f.Any = e.FilterID, e.CampaignID, e.AccountID, e.Name, e.Conditions, e.Any
	case FilterUpdated:
		f.Name, f.Conditions, f.Any = e.Name, e.Conditions, e.Any
	case FilterDeleted:
		f.Deleted = true
	}
	f.Version++
	return f
}

// FoldFilter folds a filter's history.
func FoldFilter(history []Event) Filter { return Fold(Filter{}, history) }

// CreateFilter decides a new filter of a campaign whose schema is s. An
// empty match is MatchConditions: only MatchAll may come without a
// condition.
func CreateFilter(id, campaignID, accountID uuid.UUID, name string, match FilterMatch, conds []Condition, anyOf [][]Condition,
	s Schema, at time.Time,
) ([]Event, error) {
	conds, anyOf, err := validateFilter(name, match, conds, anyOf, s)
	if err != nil {
		return nil, err
	}
	return []Event{FilterCreated{FilterID: id, CampaignID: campaignID, AccountID: accountID, Name: name,
		Conditions: conds, Any: anyOf, At: at}}, nil
}

// Update decides new name and conditions, with match as CreateFilter
// takes it; identical ones are a no-op.
func (f Filter) Update(name string, match FilterMatch, conds []Condition, anyOf [][]Condition, s Schema, at time.Time) ([]Event, error) {
	if f.Version == 0 {
		return nil, ErrFilterNotFound
	}
	if f.Deleted {
		return nil, ErrFilterDeleted
	}
	conds, anyOf, err := validateFilter(name, match, conds, anyOf, s)
	if err != nil {
		return nil, err
	}
	if name == f.Name && reflect.DeepEqual(conds, f.Conditions) && reflect.DeepEqual(anyOf, f.Any) {
		return nil, nil
	}
	return []Event{FilterUpdated{FilterID: f.ID, Name: name, Conditions: conds, Any: anyOf, At: at}}, nil
}

// Delete decides the deletion; deleting twice is a no-op.
func (f Filter) Delete(at time.Time) ([]Event, error) {
	if f.Version == 0 {
		return nil, ErrFilterNotFound
	}
	if f.Deleted {
		return nil, nil
	}
	return []Event{FilterDeleted{FilterID: f.ID, At: at}}, nil
}

func validateFilter(name string, match FilterMatch, conds []Condition, anyOf [][]Condition, s Schema) ([]Condition, [][]Condition, error) {
	v := &ValidationError{}
	validName(v, "name", name)
	switch none := len(conds) == 0 && len(anyOf) == 0; match {
	case "", MatchConditions:
		if none {
			v.Add("conditions", CodeRequired, `a filter needs at least one condition; to let every lead of the campaign through, send "match": "all" and no condition`)
		}
	case MatchAll:
		if !none {
			v.Add("match", CodeInvalidValue, `"all" lets every lead of the campaign through and takes no condition`)
		}
	default:
		v.Add("match", CodeInvalidValue, "unknown match %s (all, conditions)", quote(match))
	}
	n := len(conds)
	for _, g := range anyOf {
		n += len(g)
	}
	if !validCount(v, "conditions", n, MaxConditions, "conditions, those of any groups included") {
		return nil, nil, v
	}
	conds = validateConditions(v, "conditions", conds, s)
	var groups [][]Condition
	for i, g := range anyOf {
		p := indexPath("any", i)
		if len(g) == 0 {
			v.Add(p, CodeInvalidValue, "an any group needs at least one condition")
		}
		groups = append(groups, validateConditions(v, p, g, s))
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if conds == nil {
		conds = []Condition{}
	}
	return conds, groups, nil
}

// ValidateConditions checks conditions against a schema and returns them
// with normalized values; the error is a *ValidationError.
func ValidateConditions(conds []Condition, s Schema) ([]Condition, error) {
	v := &ValidationError{}
	out := validateConditions(v, "conditions", conds, s)
	return out, v.Err()
}

func validateConditions(v *ValidationError, path string, conds []Condition, s Schema) []Condition {
	out := make([]Condition, 0, len(conds))
	for i, c := range conds {
		if nc, ok := validateCondition(v, indexPath(path, i), c, s); ok {
			out = append(out, nc)
		}
	}
	return out
}

// kindOf returns the field a condition compares against, with pseudo
// fields for the lead attributes.
func kindOf(s Schema, field string) (Field, bool) {
	switch field {
	case AttrStatus:
		return Field{Key: AttrStatus, Type: "status"}, true
	case AttrCreatedAt, AttrUpdatedAt:
		return Field{Key: field, Type: TypeDatetime}, true
	}
	return s.Field(field)
}

func orderable(t FieldType) bool {
	return t == TypeNumber || t == TypeDate || t == TypeDatetime
}

func textual(t FieldType) bool {
	switch t {
	case TypeText, TypeTextarea, TypeEmail, TypePhone, TypeURL:
		return true
	}
	return false
}

func validateCondition(v *ValidationError, p string, c Condition, s Schema) (Condition, bool) {
	f, ok := kindOf(s, c.Field)
	if !ok {
		v.Add(p+".field", CodeUnknownField, "the campaign has no field %s", quote(c.Field))
		return c, false
	}
	n := len(v.Errors)
	scalar := func(raw any) any {
		if f.Type == "status" {
			st, ok := raw.(string)
			if !ok || !s.HasStatus(st) {
				v.Add(p+".value", CodeUnknownStatus, "%s is not a status of the campaign", quote(raw))
			}
			return st
		}
		ft := f
		if ft.Type == TypeMultiselect {
			ft.Type = TypeSelect // a multiselect condition names one option
		}
		if c.Op == OpContains && textual(ft.Type) {
			ft.Type = TypeText // a part of an email, phone or URL is not one itself
		}
		val, _ := s.normalize(v, p+".value", ft, raw)
		return val
	}
	switch c.Op {
	case OpEmpty, OpNotEmpty:
		if c.Value != nil {
			v.Add(p+".value", CodeInvalidValue, "%s takes no value", c.Op)
		}
		c.Value = nil
	case OpEq, OpNeq:
		c.Value = scalar(c.Value)
	case OpContains:
		if !textual(f.Type) && f.Type != TypeMultiselect {
			v.Add(p+".op", CodeInvalidValue, "contains applies to text and multiselect fields, not %s", f.Type)
			break
		}
		c.Value = scalar(c.Value)
	case OpGt, OpGte, OpLt, OpLte:
		if !orderable(f.Type) {
			v.Add(p+".op", CodeInvalidValue, "%s applies to number, date and datetime fields, not %s", c.Op, f.Type)
			break
		}
		c.Value = scalar(c.Value)
	case OpIn, OpNotIn, OpBetween:
		items, ok := c.Value.([]any)
		if !ok {
			if ss, isStrings := c.Value.([]string); isStrings {
				for _, x := range ss {
					items = append(items, x)
				}
				ok = true
			}
		}
		if !ok || len(items) == 0 {
			v.Add(p+".value", CodeWrongType, "%s takes a non-empty array", c.Op)
			break
		}
		if !validCount(v, p+".value", len(items), MaxConditionValues, "values") {
			break
		}
		if c.Op == OpBetween {
			if !orderable(f.Type) {
				v.Add(p+".op", CodeInvalidValue, "between applies to number, date and datetime fields, not %s", f.Type)
				break
			}
			if len(items) != 2 {
				v.Add(p+".value", CodeInvalidValue, "between takes [low, high]")
				break
			}
		}
		vals := make([]any, len(items))
		for j, it := range items {
			vals[j] = scalar(it)
		}
		if c.Op == OpBetween && len(v.Errors) == n && compare(f.Type, vals[0], vals[1]) > 0 {
			v.Add(p+".value", CodeInvalidValue, "between takes [low, high] with low <= high")
		}
		c.Value = vals
	default:
		v.Add(p+".op", CodeInvalidValue, "unknown operator %s (one of %s)", quote(c.Op), opList())
	}
	return c, len(v.Errors) == n
}

func opList() string {
	s := make([]string, len(Ops))
	for i, o := range Ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// Matches evaluates the filter against a lead. This Go evaluation is the
// reference semantics; any SQL compilation must agree with it. A missing or
// null value: eq, in, contains, gt… false; neq, not_in, empty true.
func (f Filter) Matches(s Schema, l LeadView) bool {
	_, failing := f.FirstFailing(s, l)
	return !failing
}

// FirstFailing returns the first condition the lead does not meet, so a
// refused write can name it. For an Any group, the group's first condition
// stands for the group.
func (f Filter) FirstFailing(s Schema, l LeadView) (Condition, bool) {
	for _, c := range f.Conditions {
		if !EvalCondition(s, c, l) {
			return c, true
		}
	}
	for _, g := range f.Any {
		ok := false
		for _, c := range g {
			if EvalCondition(s, c, l) {
				ok = true
				break
			}
		}
		if !ok && len(g) > 0 {
			return g[0], true
		}
	}
	return Condition{}, false
}

func leadValue(c Condition, l LeadView) any {
	switch c.Field {
	case AttrStatus:
		return l.Status
	case AttrCreatedAt:
		return l.CreatedAt.UTC().Format(time.RFC3339Nano)
	case AttrUpdatedAt:
		return l.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	return l.Fields[c.Field]
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// EvalCondition evaluates one condition against a lead.
func EvalCondition(s Schema, c Condition, l LeadView) bool {
	f, ok := kindOf(s, c.Field)
	if !ok {
		return false
	}
	v := leadValue(c, l)
	switch c.Op {
	case OpEmpty:
		return isEmpty(v)
	case OpNotEmpty:
		return !isEmpty(v)
	case OpNeq:
		return !equalValue(f.Type, v, c.Value)
	case OpNotIn:
		return !inValues(f.Type, v, c.Value)
	}
	if isEmpty(v) {
		return false
	}
	switch c.Op {
	case OpEq:
		return equalValue(f.Type, v, c.Value)
	case OpIn:
		return inValues(f.Type, v, c.Value)
	case OpContains:
		if f.Type == TypeMultiselect {
			return equalValue(f.Type, v, c.Value)
		}
		a, _ := v.(string)
		b, _ := c.Value.(string)
		return strings.Contains(strings.ToLower(a), strings.ToLower(b))
	case OpGt:
		return ordered(compare(f.Type, v, c.Value), func(n int) bool { return n > 0 })
	case OpGte:
		return ordered(compare(f.Type, v, c.Value), func(n int) bool { return n >= 0 })
	case OpLt:
		return ordered(compare(f.Type, v, c.Value), func(n int) bool { return n < 0 })
	case OpLte:
		return ordered(compare(f.Type, v, c.Value), func(n int) bool { return n <= 0 })
	case OpBetween:
		b, ok := c.Value.([]any)
		return ok && len(b) == 2 && ordered(compare(f.Type, v, b[0]), func(n int) bool { return n >= 0 }) &&
			ordered(compare(f.Type, v, b[1]), func(n int) bool { return n <= 0 })
	}
	return false
}

// equalValue: a multiselect equals a value when it holds it.
func equalValue(t FieldType, v, want any) bool {
	if isEmpty(v) {
		return false
	}
	if t == TypeMultiselect {
		w, _ := want.(string)
		for _, it := range multiValues(v) {
			if it == w {
				return true
			}
		}
		return false
	}
	if orderable(t) {
		return compare(t, v, want) == 0
	}
	return fmt.Sprint(v) == fmt.Sprint(want)
}

func inValues(t FieldType, v, list any) bool {
	items, _ := list.([]any)
	for _, it := range items {
		if equalValue(t, v, it) {
			return true
		}
	}
	return false
}

func multiValues(v any) []string {
	ss, ok := toStrings(v)
	if !ok {
		return nil
	}
	return ss
}

// compare orders two normalized values of type t; values of the wrong type
// order as equal so that no comparison holds by accident (callers check
// emptiness first).
func compare(t FieldType, a, b any) int {
	switch t {
	case TypeNumber:
		x, ok1 := toFloat(a)
		y, ok2 := toFloat(b)
		if !ok1 || !ok2 {
			return cmpInvalid
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case TypeDate, TypeDatetime:
		x, ok1 := TimeValue(a)
		y, ok2 := TimeValue(b)
		if !ok1 || !ok2 {
			return cmpInvalid
		}
		return x.Compare(y)
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// cmpInvalid is compare's result for an unusable value: not 0, so never
// equal, and ordered makes every ordered comparison with it false.
const cmpInvalid = 2

func ordered(cmp int, holds func(int) bool) bool { return cmp != cmpInvalid && holds(cmp) }

// TimeValue reads a date or datetime value as conditions compare it: an
// RFC 3339 date-time or a YYYY-MM-DD date; anything else is not a time.
func TimeValue(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// EqualityDefaults returns the fields pinned by eq conditions of the
// filter: a partner's create fills them when it omits them.
func (f Filter) EqualityDefaults(s Schema) map[string]any {
	out := map[string]any{}
	for _, c := range f.Conditions {
		if c.Op != OpEq || c.Value == nil {
			continue
		}
		if c.Field == AttrStatus {
			out[AttrStatus] = c.Value
			continue
		}
		fd, ok := s.Field(c.Field)
		if !ok {
			continue
		}
		if fd.Type == TypeMultiselect {
			out[c.Field] = []string{fmt.Sprint(c.Value)}
		} else {
			out[c.Field] = c.Value
		}
	}
	return out
}

// EveryLead is how Explain says MatchAll.
const EveryLead = "every lead of the campaign"

// Explain describes the filter in sentences such as
// `source = Partner ABC (partner-abc)`; a filter without condition is
// EveryLead, so that it never reads like a narrow one.
func (f Filter) Explain(s Schema) []string {
	if f.Match() == MatchAll {
		return []string{EveryLead}
	}
	var out []string
	for _, c := range f.Conditions {
		out = append(out, DescribeCondition(s, c))
	}
	for _, g := range f.Any {
		parts := make([]string, len(g))
		for i, c := range g {
			parts[i] = DescribeCondition(s, c)
		}
		out = append(out, "any of: "+strings.Join(parts, " or "))
	}
	return out
}

var opWords = map[Op]string{OpEq: "=", OpNeq: "≠", OpIn: "is one of", OpNotIn: "is none of", OpContains: "contains",
	OpEmpty: "is empty", OpNotEmpty: "is not empty", OpGt: ">", OpGte: "≥", OpLt: "<", OpLte: "≤", OpBetween: "is between"}

// DescribeCondition renders one condition for people, with option labels.
func DescribeCondition(s Schema, c Condition) string {
	label := func(v any) string {
		str := fmt.Sprint(v)
		if f, ok := s.Field(c.Field); ok && (f.Type == TypeSelect || f.Type == TypeMultiselect) {
			if sl, ok := s.Select(f.Select); ok {
				for _, o := range sl.Options {
					if o.Value == str {
						return o.Label + " (" + o.Value + ")"
					}
				}
			}
		}
		return str
	}
	w := opWords[c.Op]
	switch c.Op {
	case OpEmpty, OpNotEmpty:
		return c.Field + " " + w
	case OpIn, OpNotIn, OpBetween:
		items, _ := c.Value.([]any)
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = label(it)
		}
		sep := ", "
		if c.Op == OpBetween {
			sep = " and "
		}
		return c.Field + " " + w + " " + strings.Join(parts, sep)
	}
	return c.Field + " " + w + " " + label(c.Value)
}

// NarrowSchema returns the schema as a token bound to the filter sees it:
// a select list keeps only the options some lead inside the filter could
// hold in a field that uses it, and the statuses only those the filter
// lets through (mayHold). A partner never learns the other partners'
// option values and labels from its own schema.
func (f Filter) NarrowSchema(s Schema) Schema {
	allowed := map[string]map[string]bool{} // select key → option values kept
	for _, fd := range s.Fields {
		if fd.Type != TypeSelect && fd.Type != TypeMultiselect {
			continue
		}
		if allowed[fd.Select] == nil {
			allowed[fd.Select] = map[string]bool{}
		}
		for _, o := range f.FieldOptions(s, fd) {
			allowed[fd.Select][o.Value] = true
		}
	}
	out := Schema{Fields: clone(s.Fields), Selects: cloneSelects(s.Selects), Statuses: []Status{}}
	for i, sl := range out.Selects {
		keep, used := allowed[sl.Key]
		if !used {
			continue // no field uses the list: nothing of a lead is in it
		}
		opts := []Option{}
		for _, o := range sl.Options {
			if keep[o.Value] {
				opts = append(opts, o)
			}
		}
		out.Selects[i].Options = opts
	}
	for _, st := range s.Statuses {
		if f.mayHold(s, AttrStatus, false, LeadView{Status: st.Slug}) {
			out.Statuses = append(out.Statuses, st)
		}
	}
	return out
}

// FieldOptions are the options of the select field fd that a lead inside
// the filter may hold in it (mayHold).
func (f Filter) FieldOptions(s Schema, fd Field) []Option {
	sl, _ := s.Select(fd.Select)
	out := []Option{}
	for _, o := range sl.Options {
		var v any = o.Value
		if fd.Type == TypeMultiselect {
			v = []string{o.Value}
		}
		if f.mayHold(s, fd.Key, fd.Type == TypeMultiselect, LeadView{Fields: Fields{fd.Key: v}}) {
			out = append(out, o)
		}
	}
	return out
}

// mayHold reports whether a lead inside the filter may have the value v
// shows for key: every condition on key holds for it, and some condition
// of each Any group that names key alone. Conditions on other members are
// taken to be met by their own values. A multiselect holding the value
// may hold others beside it, so only the conditions that no other option
// can make true (neq, not_in, empty) narrow it.
func (f Filter) mayHold(s Schema, key string, multi bool, v LeadView) bool {
	holds := func(c Condition) bool {
		if multi && c.Op != OpNeq && c.Op != OpNotIn && c.Op != OpEmpty {
			return true
		}
		return EvalCondition(s, c, v)
	}
	for _, c := range f.Conditions {
		if c.Field == key && !holds(c) {
			return false
		}
	}
	for _, g := range f.Any {
		alone, met := len(g) > 0, false
		for _, c := range g {
			if c.Field != key {
				alone = false
				break
			}
			met = met || holds(c)
		}
		if alone && !met {
			return false
		}
	}
	return true
}
