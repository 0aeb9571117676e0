package leads

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadsvc/leadsvc/domain"
)

var aliasPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CompileFilter returns a SQL boolean expression over the columns status
// (text), fields (jsonb), created_at and updated_at (timestamptz), qualified
// with alias (e.g. "lv"), that holds exactly when f.Matches(s, lead) would,
// with placeholders numbered from $argOffset+1 and their values in args. ok
// is false when some condition cannot be expressed with exactly the Go
// semantics; the caller then evaluates that filter in Go.
//
// The expression is never NULL and cannot raise an error, whatever the
// fields column holds. It agrees with Matches for values of every shape
// domain.Fields holds, in any field, given that numbers are as encoding/json
// writes a float64 and that date-like strings in date and datetime fields
// are in the forms the domain normalizes to. ok is false only for
// conditions validation refuses (an order on a type without one, contains
// on created_at or updated_at, NaN) and for an alias that is not a plain
// lower-case identifier.
func CompileFilter(s domain.Schema, f domain.Filter, alias string, argOffset int) (expr string, args []any, ok bool) {
	if !aliasPattern.MatchString(alias) || argOffset < 0 {
		return "", nil, false
	}
	c := &compiler{schema: s, alias: alias, offset: argOffset, keys: map[string]int{}}
	var parts []string
	for _, cond := range f.Conditions {
		e, ok := c.condition(cond)
		if !ok {
			return "", nil, false
		}
		parts = append(parts, e)
	}
	for _, g := range f.Any {
		if len(g) == 0 {
			continue // Matches ignores an empty group
		}
		alts := make([]string, len(g))
		for i, cond := range g {
			e, ok := c.condition(cond)
			if !ok {
				return "", nil, false
			}
			alts[i] = e
		}
		parts = append(parts, "("+strings.Join(alts, " OR ")+")")
	}
	if len(parts) == 0 {
		return "TRUE", nil, true
	}
	return "(" + strings.Join(parts, " AND ") + ")", c.args, true
}

type compiler struct {
	schema domain.Schema
	alias  string
	offset int
	args   []any
	keys   map[string]int // field key → index of its parameter in args
}

// param adds v to args and returns its placeholder cast to typ, so that
// no parameter's type is left to inference.
func (c *compiler) param(v any, typ string) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(c.offset+len(c.args)) + "::" + typ
}

// subject is what a condition's field is in SQL. Its predicates may be
// NULL where the Go answer is false; the caller coalesces. ok is false
// when Go's answer cannot be expressed.
type subject interface {
	empty() string
	equalAny(items []any) (string, bool)
	contains(needle any) (string, bool)
	compare(op string, bound any) (string, bool)
}

// condition compiles one condition. A constant answer takes back the
// parameters it allocated: Postgres refuses a placeholder no expression
// uses, since it cannot type it.
func (c *compiler) condition(cond domain.Condition) (string, bool) {
	n := len(c.args)
	e, ok := c.compile(cond)
	if e == "TRUE" || e == "FALSE" {
		c.args = c.args[:n]
		for k, i := range c.keys {
			if i >= n {
				delete(c.keys, k)
			}
		}
	}
	return e, ok
}

func (c *compiler) compile(cond domain.Condition) (string, bool) {
	var sub subject
	switch cond.Field {
	case domain.AttrStatus:
		sub = textColumn{c: c, col: c.alias + ".status"}
	case domain.AttrCreatedAt, domain.AttrUpdatedAt:
		sub = timeColumn{c: c, col: c.alias + "." + cond.Field}
	default:
		fd, known := c.schema.Field(cond.Field)
		if !known {
			return "FALSE", true
		}
		i, seen := c.keys[fd.Key]
		if !seen {
			i = len(c.args)
			c.keys[fd.Key] = i
			c.param(fd.Key, "text")
		}
		k := "$" + strconv.Itoa(c.offset+i+1) + "::text"
		sub = jsonField{c: c, typ: fd.Type,
			v: "(" + c.alias + ".fields -> " + k + ")", t: "(" + c.alias + ".fields ->> " + k + ")"}
	}
	holds := func(p string, ok bool) (string, bool) {
		if !ok || p == "FALSE" {
			return p, ok
		}
		return "coalesce(" + p + ", false)", true
	}
	fails := func(p string, ok bool) (string, bool) {
		if !ok || p == "FALSE" {
			return "TRUE", ok
		}
		return "NOT coalesce(" + p + ", false)", true
	}
	switch cond.Op {
	case domain.OpEmpty:
		return sub.empty(), true
	case domain.OpNotEmpty:
		if e := sub.empty(); e != "FALSE" {
			return "NOT " + e, true
		}
		return "TRUE", true
	case domain.OpEq:
		return holds(sub.equalAny([]any{cond.Value}))
	case domain.OpNeq:
		return fails(sub.equalAny([]any{cond.Value}))
	case domain.OpIn:
		items, _ := cond.Value.([]any) // as inValues: another list type matches nothing
		return holds(sub.equalAny(items))
	case domain.OpNotIn:
		items, _ := cond.Value.([]any)
		return fails(sub.equalAny(items))
	case domain.OpContains:
		return holds(sub.contains(cond.Value))
	case domain.OpGt:
		return holds(sub.compare(">", cond.Value))
	case domain.OpGte:
		return holds(sub.compare(">=", cond.Value))
	case domain.OpLt:
		return holds(sub.compare("<", cond.Value))
	case domain.OpLte:
		return holds(sub.compare("<=", cond.Value))
	case domain.OpBetween:
		b, isList := cond.Value.([]any)
		if !isList || len(b) != 2 {
			return "FALSE", true
		}
		lo, ok1 := sub.compare(">=", b[0])
		hi, ok2 := sub.compare("<=", b[1])
		if !ok1 || !ok2 {
			return "", false
		}
		if lo == "FALSE" || hi == "FALSE" {
			return "FALSE", true
		}
		return holds("("+lo+" AND "+hi+")", true)
	}
	return "FALSE", true // EvalCondition's answer to an unknown operator
}

// jsonField is a schema field: v is its jsonb value, t its ->> text.
type jsonField struct {
	c    *compiler
	typ  domain.FieldType
	v, t string
}

// empty is isEmpty: absent, JSON null, "" or [].
func (j jsonField) empty() string {
	return "coalesce(" + j.v + ` IN ('null'::jsonb, '""'::jsonb, '[]'::jsonb), true)`
}

func (j jsonField) equalAny(items []any) (string, bool) {
	switch j.typ {
	case domain.TypeMultiselect:
		var opts []string
		for _, it := range items {
			w, _ := it.(string)
			if storable(w) {
				opts = append(opts, w)
			}
		}
		if len(opts) == 0 {
			return "FALSE", true
		}
		// ?| sees the string elements of an array; the guard keeps it
		// from also matching a bare string, which toStrings refuses.
		return "(jsonb_typeof(" + j.v + ") = 'array' AND " + j.v + " ?| " + j.c.param(opts, "text[]") + ")", true
	case domain.TypeNumber:
		var nums []string
		for _, it := range items {
			n, ok, valid := number(it)
			if !valid {
				return "", false
			}
			if ok && !math.IsInf(n, 0) {
				nums = append(nums, numeric(n))
			}
		}
		if len(nums) == 0 {
			return "FALSE", true
		}
		return "CASE WHEN jsonb_typeof(" + j.v + ") = 'number' THEN " + j.v + "::numeric = ANY(" +
			j.c.param(nums, "text[]") + "::numeric[]) END", true
	case domain.TypeDate, domain.TypeDatetime:
		var keys []string
		for _, it := range items {
			if t, ok := domain.TimeValue(it); ok {
				keys = append(keys, timeKey(t))
			}
		}
		if len(keys) == 0 {
			return "FALSE", true
		}
		return j.instant() + " = ANY(" + j.c.param(keys, "text[]") + ")", true
	}
	return j.sprintEqualAny(items), true
}

// sprintEqualAny is equalValue's fmt.Sprint(v) == fmt.Sprint(want) for
// the types without an order of their own. A string or boolean prints as
// its ->> text; a number or an array of strings prints differently, so
// they get a branch only when some item could be such a print.
func (j jsonField) sprintEqualAny(items []any) string {
	var strs, nums, lists []string
	for _, it := range items {
		s := fmt.Sprint(it)
		if s == "" || !storable(s) {
			continue // an empty value equals nothing; jsonb holds no such text
		}
		strs = append(strs, s)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) &&
			fmt.Sprint(f) == s && s != "-0" { // jsonb has no -0
			nums = append(nums, s)
		}
		if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
			lists = append(lists, s)
		}
	}
	if len(strs) == 0 {
		return "FALSE"
	}
	e := "(jsonb_typeof(" + j.v + ") IN ('string', 'boolean') AND " + j.t + " = ANY(" + j.c.param(strs, "text[]") + "))"
	if len(nums) > 0 {
		e += " OR CASE WHEN jsonb_typeof(" + j.v + ") = 'number' THEN " + j.v + "::numeric = ANY(" +
			j.c.param(nums, "text[]") + "::numeric[]) END"
	}
	if len(lists) > 0 {
		e += " OR CASE WHEN jsonb_typeof(" + j.v + ") = 'array' AND " + j.v + " <> '[]'::jsonb THEN " +
			"'[' || array_to_string(ARRAY(SELECT jsonb_array_elements_text(" + j.v + ")), ' ') || ']' = ANY(" +
			j.c.param(lists, "text[]") + ") END"
	}
	return "(" + e + ")"
}

func (j jsonField) contains(needle any) (string, bool) {
	if j.typ == domain.TypeMultiselect {
		return j.equalAny([]any{needle})
	}
	switch hay := containsText(j.c, j.t, needle); hay {
	case "":
		return "NOT " + j.empty(), true
	case "FALSE":
		return hay, true
	default:
		return "(jsonb_typeof(" + j.v + ") = 'string' AND " + hay + ")", true
	}
}

func (j jsonField) compare(op string, bound any) (string, bool) {
	switch j.typ {
	case domain.TypeNumber:
		n, ok, valid := number(bound)
		if !valid {
			return "", false
		}
		if !ok {
			return "FALSE", true
		}
		return "CASE WHEN jsonb_typeof(" + j.v + ") = 'number' THEN " + j.v + "::numeric " + op + " " +
			j.c.param(numeric(n), "text") + "::numeric END", true
	case domain.TypeDate, domain.TypeDatetime:
		t, ok := domain.TimeValue(bound)
		if !ok {
			return "FALSE", true
		}
		return "(" + j.instant() + `) COLLATE "C" ` + op + " " + j.c.param(timeKey(t), "text"), true
	}
	return "", false // compare falls back to fmt.Sprint order: refused by validation
}

// instant is the value as toTime reads it, in timeKey's fixed-width form,
// or NULL where toTime fails. It knows only the forms the domain writes:
// YYYY-MM-DD, and RFC 3339 in UTC with 0 to 9 fraction digits.
func (j jsonField) instant() string {
	return "CASE WHEN jsonb_typeof(" + j.v + ") = 'string' THEN CASE" +
		" WHEN " + j.t + " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN " + j.t + " || 'T00:00:00.000000000'" +
		" WHEN " + j.t + " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?Z$'" +
		" THEN left(" + j.t + ", 19) || '.' || rpad(rtrim(substr(" + j.t + ", 21), 'Z'), 9, '0') END END"
}

// timeKey orders like time.Compare for the years 0000 to 9999; an instant
// outside them sorts before ("-") or after ("~") every key.
func timeKey(t time.Time) string {
	switch u := t.UTC(); {
	case u.Year() < 0:
		return "-"
	case u.Year() > 9999:
		return "~"
	default:
		return u.Format("2006-01-02T15:04:05.000000000")
	}
}

// textColumn is the status column: a non-null text.
type textColumn struct {
	c   *compiler
	col string
}

func (s textColumn) empty() string { return "(" + s.col + " = '')" }

func (s textColumn) equalAny(items []any) (string, bool) {
	var strs []string
	for _, it := range items {
		if w := fmt.Sprint(it); w != "" && storable(w) {
			strs = append(strs, w)
		}
	}
	if len(strs) == 0 {
		return "FALSE", true
	}
	return "(" + s.col + " = ANY(" + s.c.param(strs, "text[]") + "))", true
}

func (s textColumn) contains(needle any) (string, bool) {
	if hay := containsText(s.c, s.col, needle); hay != "" {
		return hay, true
	}
	return "NOT " + s.empty(), true
}

func (s textColumn) compare(string, any) (string, bool) { return "", false }

// containsText is strings.Contains(strings.ToLower(text), strings.ToLower(needle))
// for a non-empty text. It returns "" for an empty needle, which every
// non-empty text holds, and FALSE for one no stored text can hold.
//
// lower() follows the database's locale, which need not agree with Go's
// simple case mapping (tr_TR and ICU locales do not), so the haystack is
// lowered by translate with a table from unicode.ToLower itself. Only runes that lower to, or are, a rune of the
// lowered needle need translating: any other rune neither is nor becomes
// one, so it cannot be part of a match either way.
func containsText(c *compiler, text string, needle any) string {
	b, _ := needle.(string)
	lower := strings.ToLower(b) // valid UTF-8: ToLower replaces invalid bytes
	if lower == "" {
		return ""
	}
	if strings.ContainsRune(lower, 0) {
		return "FALSE"
	}
	from, to := foldTable(lower)
	if from != "" {
		text = "translate(" + text + ", " + c.param(from, "text") + ", " + c.param(to, "text") + ")"
	}
	return "strpos(" + text + ", " + c.param(lower, "text") + ") > 0"
}

// foldTable returns, rune for rune, the runes unicode.ToLower changes
// whose lower case, or which themselves, occur in needle, and their lower
// cases. unicode.ToLower changes no rune outside unicode.CaseRanges.
func foldTable(needle string) (from, to string) {
	in := map[rune]bool{}
	for _, r := range needle {
		in[r] = true
	}
	var f, t []rune
	for _, cr := range unicode.CaseRanges {
		for r := rune(cr.Lo); r <= rune(cr.Hi); r++ {
			if l := unicode.ToLower(r); l != r && (in[l] || in[r]) {
				f, t = append(f, r), append(t, l)
			}
		}
	}
	return string(f), string(t)
}

// timeColumn is created_at or updated_at (microseconds). Go compares the
// RFC 3339 text of the instant, which parses back only for the years 0000
// to 9999 in UTC; outside them every comparison is false.
type timeColumn struct {
	c   *compiler
	col string
}

var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (tc timeColumn) empty() string { return "FALSE" }

func (tc timeColumn) equalAny(items []any) (string, bool) {
	var ts []time.Time
	for _, it := range items {
		// A bound between two microseconds equals no column value.
		if t, ok := domain.TimeValue(it); ok && t.Nanosecond()%1000 == 0 && !t.Before(minTime) && t.Before(maxTime) {
			ts = append(ts, t.UTC())
		}
	}
	if len(ts) == 0 {
		return "FALSE", true
	}
	return "(" + tc.col + " = ANY(" + tc.c.param(ts, "timestamptz[]") + "))", true
}

func (tc timeColumn) contains(any) (string, bool) { return "", false }

// compare rounds the bound to the microsecond in the direction that keeps
// the comparison exact: x > t ⟺ x > floor(t), x >= t ⟺ x >= ceil(t).
func (tc timeColumn) compare(op string, bound any) (string, bool) {
	t, ok := domain.TimeValue(bound)
	if !ok {
		return "FALSE", true
	}
	t = t.UTC()
	floor := t.Add(-time.Duration(t.Nanosecond() % 1000))
	ceil := floor
	if ceil.Before(t) {
		ceil = ceil.Add(time.Microsecond)
	}
	edge := floor
	if op == ">=" || op == "<" {
		edge = ceil
	}
	return "(" + tc.col + " >= " + tc.c.param(minTime, "timestamptz") + " AND " + tc.col + " < " +
		tc.c.param(maxTime, "timestamptz") + " AND " + tc.col + " " + op + " " + tc.c.param(edge, "timestamptz") + ")", true
}

// storable reports whether s can be a Postgres text: valid UTF-8 without
// NUL. Stored values always are, so any other s equals none of them.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// number is domain's toFloat; valid is false for NaN, which compare
// orders equal to everything.
func number(v any) (n float64, ok, valid bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		n, ok = f, err == nil || math.IsInf(f, 0)
	case float64:
		n, ok = x, true
	case float32:
		n, ok = float64(x), true
	case int:
		n, ok = float64(x), true
	case int64:
		n, ok = float64(x), true
	}
	return n, ok, !(ok && math.IsNaN(n))
}

// numeric is n as a numeric literal: the shortest decimal, which orders
// as float64 against the shortest decimals encoding/json stores.
func numeric(n float64) string {
	switch {
	case math.IsInf(n, 1):
		return "Infinity"
	case math.IsInf(n, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}
