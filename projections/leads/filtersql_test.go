package leads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
)

const leadsTable = `CREATE TABLE leads (
	id         int PRIMARY KEY,
	status     text        NOT NULL,
	fields     jsonb       NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL)`

// TestCompileFilterAgreesWithMatches compares the SQL of random filters
// with domain.Filter.Matches on random adversarial leads. FILTERSQL_SEED
// replays a run.
func TestCompileFilterAgreesWithMatches(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("FILTERSQL_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("FILTERSQL_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with FILTERSQL_SEED=%d)", seed, seed)
	const nLeads, nFilters = 2000, 300

	s := testSchema(t)
	g := &gen{t: t, r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), s: s}
	ctx := context.Background()
	pool := mustLeadsTable(t)
	rows := make([][]any, nLeads)
	for i := range rows {
		rows[i] = []any{i, g.status(), g.fields(), g.stamp(), g.stamp()}
	}
	if _, err := pool.CopyFrom(ctx, []string{"leads"}, []string{"id", "status", "fields", "created_at", "updated_at"},
		pgx.CopyFromRows(rows)); err != nil {
		t.Fatalf("copy leads: %v", err)
	}
	views := mustReadLeads(t, pool)

	filters := make([]domain.Filter, 0, nFilters)
	for len(filters) < nFilters {
		filters = append(filters, g.filter())
	}

	compiled := 0
	var spread [3]int // filters matching no lead, some, every lead
	var batch []domain.Filter
	for fi, f := range filters {
		expr, args, ok := leads.CompileFilter(s, f, "lv", 1)
		if !ok {
			continue
		}
		compiled++
		batch = append(batch, f)
		got, err := matchingIDs(ctx, pool, expr, args)
		if err != nil {
			t.Fatalf("filter %d: %v\nconditions %s\nsql %s", fi, err, mustJSON(t, f.Conditions, f.Any), expr)
		}
		switch len(got) {
		case 0:
			spread[0]++
		case len(views):
			spread[2]++
		default:
			spread[1]++
		}
		for id, v := range views {
			if want := f.Matches(s, v); got[id] != want {
				t.Fatalf("seed %d, filter %d, lead %d: SQL %v, Matches %v\n%s", seed, fi, id, got[id], want, explain(t, pool, s, f, id, v))
			}
		}
	}

	// The expression is never NULL, so that NOT and OR around it behave as
	// in Go. The batches also number placeholders from growing offsets.
	for len(batch) > 0 {
		n := min(len(batch), 50)
		var preds []string
		var args []any
		for _, f := range batch[:n] {
			expr, a, _ := leads.CompileFilter(s, f, "lv", len(args))
			preds = append(preds, expr+" IS NULL")
			args = append(args, a...)
		}
		batch = batch[n:]
		var nulls int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM leads lv WHERE `+strings.Join(preds, " OR "), args...).Scan(&nulls); err != nil {
			t.Fatalf("null check: %v", err)
		}
		if nulls > 0 {
			t.Fatalf("seed %d: %d leads make some filter's expression NULL", seed, nulls)
		}
	}

	t.Logf("%d leads, %d filters, %d compiled to SQL; %d match no lead, %d some, %d every lead",
		len(views), len(filters), compiled, spread[0], spread[1], spread[2])
	if compiled < len(filters)*9/10 {
		t.Fatalf("compiled %d of %d filters, want at least 90%%", compiled, len(filters))
	}
}

// TestCompileFilterCases names one case per operator family and edge, so
// that a regression names itself. Each case also checks Matches, so that
// the table states the reference semantics.
func TestCompileFilterCases(t *testing.T) {
	t.Parallel()
	s := testSchema(t)
	cond := func(field string, op domain.Op, value any) domain.Condition {
		return domain.Condition{Field: field, Op: op, Value: value}
	}
	tests := []struct {
		name    string
		fields  string // the lead's fields as stored JSON
		status  string // "new" when empty
		created time.Time
		conds   []domain.Condition
		anyOf   [][]domain.Condition
		raw     bool // skip validation: a shape only a hand-built filter has
		want    bool
	}{
		{name: "empty/absent key", fields: `{}`, conds: []domain.Condition{cond("name", domain.OpEmpty, nil)}, want: true},
		{name: "empty/null", fields: `{"name": null}`, conds: []domain.Condition{cond("name", domain.OpEmpty, nil)}, want: true},
		{name: "empty/empty string", fields: `{"name": ""}`, conds: []domain.Condition{cond("name", domain.OpEmpty, nil)}, want: true},
		{name: "empty/empty array", fields: `{"tags": []}`, conds: []domain.Condition{cond("tags", domain.OpEmpty, nil)}, want: true},
		{name: "not_empty/zero, false and [\"\"] are values", fields: `{"score": 0, "vip": false, "tags": [""]}`,
			conds: []domain.Condition{cond("score", domain.OpNotEmpty, nil), cond("vip", domain.OpNotEmpty, nil), cond("tags", domain.OpNotEmpty, nil)}, want: true},
		{name: "eq/empty string equals nothing, not even \"\"", fields: `{"name": ""}`, conds: []domain.Condition{cond("name", domain.OpEq, "")}, want: false},
		{name: "neq/absent value differs", fields: `{}`, conds: []domain.Condition{cond("name", domain.OpNeq, "a")}, want: true},
		{name: "neq/empty string differs from \"\"", fields: `{"name": ""}`, conds: []domain.Condition{cond("name", domain.OpNeq, "")}, want: true},
		{name: "eq/case matters", fields: `{"name": "Ab"}`, conds: []domain.Condition{cond("name", domain.OpEq, "ab")}, want: false},
		{name: "eq/text holding a number compares its fmt.Sprint", fields: `{"name": 1e21}`, conds: []domain.Condition{cond("name", domain.OpEq, "1e+21")}, raw: true, want: true},
		{name: "eq/text holding an array compares its fmt.Sprint", fields: `{"name": ["a", "b"]}`, conds: []domain.Condition{cond("name", domain.OpEq, "[a b]")}, raw: true, want: true},
		{name: "eq/boolean", fields: `{"vip": true}`, conds: []domain.Condition{cond("vip", domain.OpEq, true)}, want: true},
		{name: "eq/boolean holding the string true", fields: `{"vip": "true"}`, conds: []domain.Condition{cond("vip", domain.OpEq, true)}, raw: true, want: true},
		{name: "eq/relation is canonical", fields: `{"parent": "5a0c1e1d-7c37-4d0a-8f4b-2a9b1f3c6d01"}`,
			conds: []domain.Condition{cond("parent", domain.OpEq, "5A0C1E1D-7C37-4D0A-8F4B-2A9B1F3C6D01")}, want: true},
		{name: "in/status", status: "won", conds: []domain.Condition{cond("status", domain.OpIn, []any{"lost", "won"})}, want: true},
		{name: "not_in/absent value is in none", fields: `{}`, conds: []domain.Condition{cond("source", domain.OpNotIn, []any{"5"})}, want: true},
		{name: "in/a []string list matches nothing, as inValues", fields: `{"size": "m"}`,
			conds: []domain.Condition{cond("size", domain.OpIn, []string{"m"})}, raw: true, want: false},
		{name: "eq/multiselect holds the option", fields: `{"tags": ["red", "red"]}`, conds: []domain.Condition{cond("tags", domain.OpEq, "red")}, want: true},
		{name: "eq/multiselect is case-sensitive", fields: `{"tags": ["red"]}`, conds: []domain.Condition{cond("tags", domain.OpEq, "Red")}, want: false},
		{name: "eq/multiselect holding a bare string holds nothing", fields: `{"tags": "red"}`, conds: []domain.Condition{cond("tags", domain.OpEq, "red")}, raw: true, want: false},
		{name: "in/multiselect holds any", fields: `{"tags": ["red", "green"]}`, conds: []domain.Condition{cond("tags", domain.OpIn, []any{"İ", "green"})}, want: true},
		{name: "not_in/multiselect holds none", fields: `{"tags": ["red"]}`, conds: []domain.Condition{cond("tags", domain.OpNotIn, []any{"Red", "i"})}, want: true},
		{name: "neq/multiselect holding the option", fields: `{"tags": ["i", "İ"]}`, conds: []domain.Condition{cond("tags", domain.OpNeq, "i")}, want: false},
		{name: "contains/multiselect is eq", fields: `{"tags": ["a b"]}`, conds: []domain.Condition{cond("tags", domain.OpContains, "a b")}, want: true},
		{name: "contains/Go lowers İ to i", fields: `{"name": "İSTANBUL"}`, conds: []domain.Condition{cond("name", domain.OpContains, "istanbul")}, want: true},
		{name: "contains/dotless ı is not i", fields: `{"name": "ISTANBUL"}`, conds: []domain.Condition{cond("name", domain.OpContains, "ıstanbul")}, want: false},
		{name: "contains/Σ lowers to σ, never ς", fields: `{"name": "ΟΔΟΣ"}`, conds: []domain.Condition{cond("name", domain.OpContains, "οδοσ")}, want: true},
		{name: "contains/final ς is not σ", fields: `{"name": "ΟΔΟΣ"}`, conds: []domain.Condition{cond("name", domain.OpContains, "ς")}, want: false},
		{name: "contains/ẞ lowers to ß", fields: `{"name": "GROẞ"}`, conds: []domain.Condition{cond("name", domain.OpContains, "ß")}, want: true},
		{name: "contains/ß does not expand to ss", fields: `{"name": "STRASSE"}`, conds: []domain.Condition{cond("name", domain.OpContains, "ß")}, want: false},
		{name: "contains/Kelvin sign lowers to k", fields: `{"email": "\u212a@example.com"}`, conds: []domain.Condition{cond("email", domain.OpContains, "K")}, want: true},
		{name: "contains/LIKE wildcards are literal", fields: `{"site": "https://example.com/ab"}`, conds: []domain.Condition{cond("site", domain.OpContains, "a_")}, want: false},
		{name: "contains/empty needle holds for a non-empty value", fields: `{"phone": "555"}`, conds: []domain.Condition{cond("phone", domain.OpContains, "")}, want: true},
		{name: "contains/empty needle fails on an empty value", fields: `{"name": ""}`, conds: []domain.Condition{cond("name", domain.OpContains, "")}, want: false},
		// The domain refuses such needles now; a filter decided before must still compile alike.
		{name: "contains/a NUL no stored text holds", fields: `{"notes": "a"}`, conds: []domain.Condition{cond("notes", domain.OpContains, "a\x00")}, raw: true, want: false},
		{name: "contains/invalid UTF-8 lowers to U+FFFD", fields: `{"notes": "a\ufffd"}`, conds: []domain.Condition{cond("notes", domain.OpContains, "\xff")}, raw: true, want: true},
		{name: "number/-0 equals 0", fields: `{"score": -0}`, conds: []domain.Condition{cond("score", domain.OpEq, 0.0)}, want: true},
		{name: "number/the smallest denormal is above 0", fields: `{"score": 5e-324}`, conds: []domain.Condition{cond("score", domain.OpGt, 0.0)}, want: true},
		{name: "number/MaxFloat64 between itself", fields: `{"score": 1.7976931348623157e308}`,
			conds: []domain.Condition{cond("score", domain.OpBetween, []any{math.MaxFloat64, math.MaxFloat64})}, want: true},
		{name: "number/0.1+0.2 is not 0.3", fields: `{"score": 0.30000000000000004}`, conds: []domain.Condition{cond("score", domain.OpLte, 0.3)}, want: false},
		{name: "number/a string value is unordered", fields: `{"score": "5"}`, conds: []domain.Condition{cond("score", domain.OpGte, 5.0)}, raw: true, want: false},
		{name: "number/a string value differs", fields: `{"score": "5"}`, conds: []domain.Condition{cond("score", domain.OpNeq, 5.0)}, raw: true, want: true},
		{name: "date/year 0000 is before 0001", fields: `{"born": "0000-12-31"}`, conds: []domain.Condition{cond("born", domain.OpLt, "0001-01-01")}, want: true},
		{name: "date/9999-12-31 between", fields: `{"born": "9999-12-31"}`, conds: []domain.Condition{cond("born", domain.OpBetween, []any{"0000-01-01", "9999-12-31"})}, want: true},
		{name: "date/a midnight date-time equals the date", fields: `{"born": "2024-01-02T00:00:00Z"}`, conds: []domain.Condition{cond("born", domain.OpEq, "2024-01-02")}, raw: true, want: true},
		{name: "datetime/no fraction is before .1", fields: `{"seen_at": "2024-01-02T03:04:05Z"}`, conds: []domain.Condition{cond("seen_at", domain.OpLt, "2024-01-02T03:04:05.1Z")}, want: true},
		{name: "datetime/a nanosecond is after the second", fields: `{"seen_at": "2024-01-02T03:04:05.000000001Z"}`,
			conds: []domain.Condition{cond("seen_at", domain.OpGt, "2024-01-02T03:04:05Z")}, want: true},
		{name: "datetime/an offset is normalized", fields: `{"seen_at": "2024-01-02T03:04:05.5Z"}`,
			conds: []domain.Condition{cond("seen_at", domain.OpEq, "2024-01-02T05:04:05.500+02:00")}, want: true},
		{name: "datetime/a non-date string is unordered", fields: `{"seen_at": "soon"}`, conds: []domain.Condition{cond("seen_at", domain.OpLt, "9999-12-31T00:00:00Z")}, raw: true, want: false},
		{name: "created_at/gt a bound below the microsecond", conds: []domain.Condition{cond("created_at", domain.OpGt, "2024-01-02T03:04:05.000000999Z")}, want: true},
		{name: "created_at/gte a bound above the microsecond", conds: []domain.Condition{cond("created_at", domain.OpGte, "2024-01-02T03:04:05.000001001Z")}, want: false},
		{name: "created_at/lte a bound above the microsecond", conds: []domain.Condition{cond("created_at", domain.OpLte, "2024-01-02T03:04:05.000001001Z")}, want: true},
		{name: "created_at/eq at the microsecond", conds: []domain.Condition{cond("created_at", domain.OpEq, "2024-01-02T03:04:05.000001Z")}, want: true},
		{name: "created_at/neq a bound between microseconds", conds: []domain.Condition{cond("created_at", domain.OpNeq, "2024-01-02T03:04:05.000001001Z")}, want: true},
		{name: "created_at/year 10000 compares as nothing", created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			conds: []domain.Condition{cond("created_at", domain.OpGt, "0000-01-01T00:00:00Z")}, want: false},
		{name: "updated_at/not_empty", conds: []domain.Condition{cond("updated_at", domain.OpNotEmpty, nil)}, want: true},
		{name: "unknown field/neq is false", conds: []domain.Condition{cond("gone", domain.OpNeq, "x")}, raw: true, want: false},
		{name: "unknown field/empty is false", conds: []domain.Condition{cond("gone", domain.OpEmpty, nil)}, raw: true, want: false},
		{name: "unknown op is false", conds: []domain.Condition{cond("name", "like", "x")}, raw: true, want: false},
		{name: "any/each group needs one", fields: `{"size": "m", "vip": true}`, conds: []domain.Condition{cond("status", domain.OpEq, "new")},
			anyOf: [][]domain.Condition{{cond("size", domain.OpEq, "s"), cond("size", domain.OpEq, "m")}, {cond("vip", domain.OpEq, false)}}, want: false},
		{name: "any/an empty group adds nothing", anyOf: [][]domain.Condition{{}}, raw: true, want: true},
	}

	ctx := context.Background()
	pool := mustLeadsTable(t)
	for i, tt := range tests {
		fields, status, created := tt.fields, tt.status, tt.created
		if fields == "" {
			fields = `{}`
		}
		if status == "" {
			status = "new"
		}
		if created.IsZero() {
			created = time.Date(2024, 1, 2, 3, 4, 5, 1000, time.UTC)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO leads VALUES ($1, $2, $3::text::jsonb, $4, $4)`, i, status, fields, created); err != nil {
			t.Fatalf("%s: insert: %v", tt.name, err)
		}
	}
	views := mustReadLeads(t, pool)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := domain.Filter{Conditions: tt.conds, Any: tt.anyOf}
			if !tt.raw {
				var err error
				if f.Conditions, err = domain.ValidateConditions(f.Conditions, s); err != nil {
					t.Fatalf("conditions: %v", err)
				}
				for j, g := range f.Any {
					if f.Any[j], err = domain.ValidateConditions(g, s); err != nil {
						t.Fatalf("any[%d]: %v", j, err)
					}
				}
			}
			if got := f.Matches(s, views[i]); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
			expr, args, ok := leads.CompileFilter(s, f, "lv", 1)
			if !ok {
				t.Fatalf("CompileFilter ok = false, want true")
			}
			var got bool
			if err := pool.QueryRow(ctx, `SELECT `+expr+` FROM leads lv WHERE lv.id = $1`, append([]any{i}, args...)...).Scan(&got); err != nil {
				t.Fatalf("query: %v\nsql %s", err, expr)
			}
			if got != tt.want {
				t.Fatalf("SQL = %v, want %v\nsql %s\nargs %q", got, tt.want, expr, args)
			}
		})
	}
}

// TestCompileFilterRefuses covers the conditions Go answers in a way SQL
// cannot follow exactly; none passes validation.
func TestCompileFilterRefuses(t *testing.T) {
	t.Parallel()
	s := testSchema(t)
	tests := []struct {
		name  string
		cond  domain.Condition
		alias string
	}{
		{name: "NaN equals every number in compare", cond: domain.Condition{Field: "score", Op: domain.OpEq, Value: math.NaN()}},
		{name: "text order is fmt.Sprint order", cond: domain.Condition{Field: "name", Op: domain.OpGt, Value: "a"}},
		{name: "contains on created_at reads its RFC 3339 text", cond: domain.Condition{Field: "created_at", Op: domain.OpContains, Value: "2024"}},
		{name: "alias is not an identifier", cond: domain.Condition{Field: "name", Op: domain.OpEmpty}, alias: `lv"; --`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alias := tt.alias
			if alias == "" {
				alias = "lv"
			}
			if _, _, ok := leads.CompileFilter(s, domain.Filter{Conditions: []domain.Condition{tt.cond}}, alias, 0); ok {
				t.Fatalf("CompileFilter ok = true, want false")
			}
		})
	}
}

// TestCompileFilterPassesValuesAsArgs checks that values and field keys
// reach Postgres only as parameters, numbered after argOffset.
func TestCompileFilterPassesValuesAsArgs(t *testing.T) {
	t.Parallel()
	s := testSchema(t)
	value := "O'Brien\"; DROP TABLE leads; --"
	f := domain.Filter{Conditions: []domain.Condition{
		{Field: "name", Op: domain.OpEq, Value: value},
		{Field: "notes", Op: domain.OpContains, Value: value},
	}}
	expr, args, ok := leads.CompileFilter(s, f, "lv", 3)
	if !ok {
		t.Fatalf("CompileFilter ok = false, want true")
	}
	for _, leak := range []string{"O'Brien", "DROP", "'name'", "'notes'", "$1", "$2", "$3:"} {
		if strings.Contains(expr, leak) {
			t.Errorf("expression contains %q: %s", leak, expr)
		}
	}
	if got, want := strings.Count(expr, "$4::"), 2; got < want {
		t.Errorf("$4 appears %d times, want at least %d: %s", got, want, expr)
	}
	if !strings.Contains(expr, "$"+strconv.Itoa(3+len(args))+"::") {
		t.Errorf("expression does not use its last placeholder $%d: %s", 3+len(args), expr)
	}
}

// matchingIDs runs the expression as a caller would, after a parameter
// of its own, and returns the ids it selects.
func matchingIDs(ctx context.Context, pool *pgxpool.Pool, expr string, args []any) (map[int]bool, error) {
	rows, err := pool.Query(ctx, `SELECT lv.id FROM leads lv WHERE lv.id >= $1 AND `+expr, append([]any{0}, args...)...)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	got := map[int]bool{}
	for _, id := range ids {
		got[id] = true
	}
	return got, err
}

// explain lists, for each condition of f, the lead's value and both
// answers, marking where they differ.
func explain(t *testing.T, pool *pgxpool.Pool, s domain.Schema, f domain.Filter, id int, v domain.LeadView) string {
	t.Helper()
	var b strings.Builder
	conds := slices.Clone(f.Conditions)
	for _, g := range f.Any {
		conds = append(conds, g...)
	}
	for _, c := range conds {
		goAns := domain.EvalCondition(s, c, v)
		expr, args, ok := leads.CompileFilter(s, domain.Filter{Conditions: []domain.Condition{c}}, "lv", 1)
		sqlAns := "not compiled"
		if ok {
			var got bool
			err := pool.QueryRow(context.Background(), `SELECT `+expr+` FROM leads lv WHERE lv.id = $1`, append([]any{id}, args...)...).Scan(&got)
			sqlAns = fmt.Sprint(got)
			if err != nil {
				sqlAns = err.Error()
			}
		}
		mark, sql := " ", ""
		if sqlAns != fmt.Sprint(goAns) {
			mark, sql = "≠", "\n    sql "+expr
		}
		var value any
		switch c.Field {
		case domain.AttrStatus:
			value = v.Status
		case domain.AttrCreatedAt:
			value = v.CreatedAt.UTC().Format(time.RFC3339Nano)
		case domain.AttrUpdatedAt:
			value = v.UpdatedAt.UTC().Format(time.RFC3339Nano)
		default:
			var present bool
			if value, present = v.Fields[c.Field]; !present {
				value = "(absent)"
			}
		}
		fmt.Fprintf(&b, "%s %s: lead value %s; SQL %s, Go %v%s\n", mark, mustJSON(t, c), mustJSON(t, value), sqlAns, goAns, sql)
	}
	return b.String()
}

func mustJSON(t *testing.T, vs ...any) string {
	t.Helper()
	var parts []string
	for _, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%v (%v)", v, err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, " ")
}

// mustLeadsTable returns a pool on a fresh schema holding an empty leads
// table with the read model's column types.
func mustLeadsTable(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Pool(t, testenv.Schema(t))
	if _, err := pool.Exec(context.Background(), leadsTable); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return pool
}

// mustReadLeads reads the leads back as a projection would: fields
// decoded by encoding/json, so arrays are []any and numbers float64.
func mustReadLeads(t *testing.T, pool *pgxpool.Pool) map[int]domain.LeadView {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, status, fields, created_at, updated_at FROM leads`)
	if err != nil {
		t.Fatalf("read leads: %v", err)
	}
	defer rows.Close()
	out := map[int]domain.LeadView{}
	for rows.Next() {
		var id int
		var v domain.LeadView
		var fields []byte
		if err := rows.Scan(&id, &v.Status, &fields, &v.CreatedAt, &v.UpdatedAt); err != nil {
			t.Fatalf("scan lead: %v", err)
		}
		if err := json.Unmarshal(fields, &v.Fields); err != nil {
			t.Fatalf("lead %d fields: %v", id, err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read leads: %v", err)
	}
	return out
}

func testSchema(t *testing.T) domain.Schema {
	t.Helper()
	target := uuid.MustParse("0b7e3c1a-5d2f-4c8e-9a61-2f0d4b7c9e15")
	opts := func(vals ...string) []domain.Option {
		out := make([]domain.Option, len(vals))
		for i, v := range vals {
			out[i] = domain.Option{Value: v, Label: "Option " + v}
		}
		return out
	}
	field := func(key string, typ domain.FieldType, sel string) domain.Field {
		f := domain.Field{Key: key, Label: "Field " + key, Type: typ, Select: sel}
		if typ == domain.TypeRelation {
			f.Campaign = &target
		}
		return f
	}
	s := domain.Schema{
		Selects: []domain.Select{
			{Key: "source", Label: "Source", Options: opts(selectOptions["source"]...)},
			{Key: "size", Label: "Size", Options: opts(selectOptions["size"]...)},
			{Key: "tags", Label: "Tags", Options: opts(selectOptions["tags"]...)},
		},
		Fields: []domain.Field{
			field("name", domain.TypeText, ""),
			field("notes", domain.TypeTextarea, ""),
			field("score", domain.TypeNumber, ""),
			field("vip", domain.TypeBoolean, ""),
			field("born", domain.TypeDate, ""),
			field("seen_at", domain.TypeDatetime, ""),
			field("email", domain.TypeEmail, ""),
			field("phone", domain.TypePhone, ""),
			field("site", domain.TypeURL, ""),
			field("source", domain.TypeSelect, "source"),
			field("size", domain.TypeSelect, "size"),
			field("tags", domain.TypeMultiselect, "tags"),
			field("parent", domain.TypeRelation, ""),
			field("owner", domain.TypeRelation, ""),
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "qualified", Label: "Qualified"},
			{Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return s
}

// The value pools: leads and conditions draw from the same ones, so that
// equalities and boundaries are hit.
var (
	selectOptions = map[string][]string{
		"source": {"partner-abc", "İSTANBUL", "istanbul", "5", "true", "[a b]", "1e+21", "ß", "Straße"},
		"size":   {"s", "m", "l", "xl", "XL"},
		"tags":   {"red", "Red", "green", "İ", "i", "a b", "[x]", "ΣΑΣ"},
	}
	texts = []string{"", "a", "A", "ab", "aB", " a ", "İstanbul", "istanbul", "ISTANBUL", "ıstanbul", "i\u0307",
		"İ", "ı", "I", "i", "Straße", "STRASSE", "strasse", "ß", "ẞ", "ΟΔΟΣ", "οδος", "οδοσ", "Σ", "σ", "ς",
		"\u212a", "k", "\u212b", "å", "Ⱥ", "ⱥ", "ǅ", "ǆ", "Ǆ", "5", "1e+21", "1e-07", "-0", "0", "true", "false",
		"[a b]", "[]", "[ ]", "[a]", "%", "_", `\`, "'", `"`, "😀", "a😀b", "\ufffd", "x\u00a0y", "İİ", "ΣΑΣ",
		"partner-abc", "red", "Red", "a b", "[x]", "é", "e\u0301"}
	alphabet = []rune("aAbiIİıßẞΣσςkK\u212aÅå\u212bȺⱥǅ 0-_%\\'😀é\u0301\u0307")
	numbers  = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 0.30000000000000004, 42.5, 1e6, 123456789,
		1e21, 1e-7, 1e-5, 9007199254740992, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 1e308, -1e-308}
	dates = []string{"0000-01-01", "0000-02-29", "0000-12-31", "0001-01-01", "1969-12-31", "1970-01-01",
		"2024-01-02", "2024-02-29", "2024-03-01", "9999-12-31"}
	moments = []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 1, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 100000000, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 999999999, time.UTC),
	}
	// stamps are created_at and updated_at values: microseconds, some
	// outside the years 0000 to 9999 that Go's RFC 3339 parses.
	stamps = []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 1000, time.UTC),
	}
	emails    = []string{"a@b.co", "A@B.CO", "x.y@example.com", "İ@example.com", "o'brien@example.ie"}
	phones    = []string{"+1 555 0100", "(030) 1234-5678", "555", "+49 30 1234567"}
	urls      = []string{"https://example.com", "https://EXAMPLE.com/İ", "http://a.b/?q=%20&x=1", "https://example.com/a_%"}
	relations = []string{"5a0c1e1d-7c37-4d0a-8f4b-2a9b1f3c6d01", "0b2f8e4a-1d5c-4e7f-9a3b-6c8d0e2f4a13",
		"c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f", "00000000-0000-0000-0000-000000000000"}
	statusSlugs = []string{"new", "qualified", "won", "lost"}
)

type gen struct {
	t *testing.T
	r *rand.Rand
	s domain.Schema
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *gen) text() string {
	switch g.r.IntN(6) {
	case 0, 1:
		return pick(g.r, texts)
	case 2:
		return pick(g.r, texts) + pick(g.r, texts)
	case 3:
		var b strings.Builder
		for range g.r.IntN(6) {
			b.WriteRune(pick(g.r, alphabet))
		}
		return b.String()
	case 4:
		return strings.ToUpper(pick(g.r, texts))
	}
	return strings.ToLower(pick(g.r, texts))
}

// needle is a contains value: often a piece of a text in another case.
func (g *gen) needle() string {
	switch g.r.IntN(8) {
	case 0:
		return ""
	case 1:
		return pick(g.r, []string{"\xff", "a\x00", "İ\xc3", "\x00"}) // no stored text holds these
	case 2, 3:
		return g.text()
	}
	rs := []rune(g.text())
	i := g.r.IntN(len(rs) + 1)
	j := i + g.r.IntN(len(rs)-i+1)
	piece := string(rs[i:j])
	switch g.r.IntN(3) {
	case 0:
		return strings.ToUpper(piece)
	case 1:
		return strings.ToLower(piece)
	}
	return piece
}

func (g *gen) number() float64 {
	for {
		var n float64
		switch g.r.IntN(6) {
		case 0, 1:
			n = pick(g.r, numbers)
		case 2:
			n = math.Nextafter(pick(g.r, numbers), math.Inf(1))
		case 3:
			n = math.Nextafter(pick(g.r, numbers), math.Inf(-1))
		case 4:
			n = float64(g.r.IntN(41)-20) / 4
		default:
			n = math.Float64frombits(g.r.Uint64())
		}
		if !math.IsInf(n, 0) && !math.IsNaN(n) {
			return n
		}
	}
}

func (g *gen) date() string {
	if g.r.IntN(2) == 0 {
		return pick(g.r, dates)
	}
	d := time.Date(g.r.IntN(10000), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.r.IntN(366))
	if d.Year() > 9999 {
		return pick(g.r, dates)
	}
	return d.Format("2006-01-02")
}

// moment is a datetime field's instant: near the pool's at nanosecond or
// microsecond distance, or random with 0 to 9 fraction digits.
func (g *gen) moment() time.Time {
	var t time.Time
	switch g.r.IntN(4) {
	case 0:
		t = pick(g.r, moments)
	case 1:
		t = pick(g.r, moments).Add(time.Duration(g.r.IntN(2001) - 1000))
	case 2:
		t = pick(g.r, moments).Add(time.Duration(g.r.IntN(2001)-1000) * time.Microsecond)
	default:
		digits := g.r.IntN(10)
		unit := int(math.Pow10(9 - digits))
		t = time.Date(g.r.IntN(10000), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60),
			g.r.IntN(60), g.r.IntN(int(math.Pow10(digits)))*unit, time.UTC)
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return moments[3]
	}
	return t
}

func (g *gen) datetime() string { return g.moment().UTC().Format(time.RFC3339Nano) }

// stamp is a created_at or updated_at value (microseconds).
func (g *gen) stamp() time.Time {
	switch g.r.IntN(6) {
	case 0:
		return pick(g.r, stamps)
	case 1, 2, 3:
		return stamps[4].Add(time.Duration(g.r.IntN(5)-2) * time.Microsecond)
	}
	return time.Date(g.r.IntN(10000), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60),
		g.r.IntN(60), g.r.IntN(1000000)*1000, time.UTC)
}

// stampBound is a condition on created_at or updated_at: a stamp moved by
// less than a microsecond, or by exactly one, in UTC or another offset.
func (g *gen) stampBound() string {
	t := g.stamp().Add(time.Duration(pick(g.r, []int{0, 0, 1, -1, 500, -500, 999, -999, 1000, -1000})))
	if y := t.Year(); y < 0 || y > 9999 {
		t = stamps[4]
	}
	if g.r.IntN(3) == 0 {
		return t.In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339Nano)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (g *gen) status() string {
	switch g.r.IntN(20) {
	case 0:
		return ""
	case 1:
		return "archived"
	}
	return pick(g.r, statusSlugs)
}

func (g *gen) fields() map[string]any {
	out := map[string]any{}
	for _, f := range g.s.Fields {
		switch p := g.r.IntN(100); {
		case p < 12: // absent
		case p < 17:
			out[f.Key] = nil
		case p < 25:
			out[f.Key] = g.anyShape()
		default:
			out[f.Key] = g.value(f)
		}
	}
	return out
}

// anyShape is a value of any shape a lead field holds, in a field of
// possibly another type.
func (g *gen) anyShape() any {
	switch g.r.IntN(9) {
	case 0:
		return g.text()
	case 1:
		return g.number()
	case 2:
		return g.r.IntN(2) == 0
	case 3:
		return g.date()
	case 4:
		return g.datetime()
	case 5:
		return []string{}
	case 6:
		return []string{g.text(), pick(g.r, selectOptions["tags"])}
	case 7:
		return []string{g.text()} // fmt.Sprint gives "[" + text + "]"
	}
	return ""
}

func (g *gen) value(f domain.Field) any {
	switch f.Type {
	case domain.TypeNumber:
		return g.number()
	case domain.TypeBoolean:
		return g.r.IntN(2) == 0
	case domain.TypeDate:
		return g.date()
	case domain.TypeDatetime:
		return g.datetime()
	case domain.TypeEmail:
		return pick(g.r, emails)
	case domain.TypePhone:
		return pick(g.r, phones)
	case domain.TypeURL:
		return pick(g.r, urls)
	case domain.TypeRelation:
		return pick(g.r, relations)
	case domain.TypeSelect:
		if g.r.IntN(10) == 0 {
			return g.text()
		}
		return pick(g.r, selectOptions[f.Select])
	case domain.TypeMultiselect:
		out := []string{} // duplicates included
		for range g.r.IntN(4) {
			out = append(out, pick(g.r, selectOptions[f.Select]))
		}
		return out
	}
	return g.text()
}

// filter draws conditions until validation accepts them, then, half the
// time, passes them through JSON as stored filters are.
func (g *gen) filter() domain.Filter {
	var f domain.Filter
	for range g.r.IntN(4) {
		f.Conditions = append(f.Conditions, g.condition())
	}
	for range g.r.IntN(3) {
		group := make([]domain.Condition, 1+g.r.IntN(3))
		for i := range group {
			group[i] = g.condition()
		}
		f.Any = append(f.Any, group)
	}
	if g.r.IntN(2) == 0 {
		type stored struct {
			Conditions []domain.Condition
			Any        [][]domain.Condition
		}
		b, err := json.Marshal(stored{f.Conditions, f.Any})
		if err != nil {
			g.t.Fatalf("encode filter: %v", err)
		}
		var st stored
		if err := json.Unmarshal(b, &st); err != nil {
			g.t.Fatalf("decode filter: %v", err)
		}
		f.Conditions, f.Any = st.Conditions, st.Any
	}
	return f
}

func (g *gen) condition() domain.Condition {
	keys := []string{domain.AttrStatus, domain.AttrCreatedAt, domain.AttrUpdatedAt}
	for _, f := range g.s.Fields {
		keys = append(keys, f.Key)
	}
	for {
		key := pick(g.r, keys)
		f, ok := g.s.Field(key)
		switch key {
		case domain.AttrStatus:
			f = domain.Field{Key: key, Type: "status"}
		case domain.AttrCreatedAt, domain.AttrUpdatedAt:
			f = domain.Field{Key: key, Type: domain.TypeDatetime}
		default:
			if !ok {
				g.t.Fatalf("no field %s", key)
			}
		}
		c := domain.Condition{Field: key, Op: g.op(f.Type)}
		switch c.Op {
		case domain.OpEmpty, domain.OpNotEmpty:
		case domain.OpIn, domain.OpNotIn:
			items := make([]any, 1+g.r.IntN(4))
			for i := range items {
				items[i] = g.scalar(f)
			}
			c.Value = items
		case domain.OpBetween:
			c.Value = []any{g.scalar(f), g.scalar(f)}
		case domain.OpContains:
			if f.Type == domain.TypeMultiselect {
				c.Value = g.scalar(f)
			} else {
				c.Value = g.needle()
			}
		default:
			c.Value = g.scalar(f)
		}
		if out, err := domain.ValidateConditions([]domain.Condition{c}, g.s); err == nil {
			return out[0]
		}
	}
}

func (g *gen) op(t domain.FieldType) domain.Op {
	if g.r.IntN(20) == 0 {
		return pick(g.r, domain.Ops)
	}
	ops := []domain.Op{domain.OpEq, domain.OpNeq, domain.OpIn, domain.OpNotIn, domain.OpEmpty, domain.OpNotEmpty}
	switch t {
	case domain.TypeText, domain.TypeTextarea, domain.TypeEmail, domain.TypePhone, domain.TypeURL:
		ops = append(ops, domain.OpContains, domain.OpContains, domain.OpContains)
	case domain.TypeMultiselect:
		ops = append(ops, domain.OpContains)
	case domain.TypeNumber, domain.TypeDate, domain.TypeDatetime:
		ops = append(ops, domain.OpGt, domain.OpGte, domain.OpLt, domain.OpLte, domain.OpBetween, domain.OpBetween)
	}
	return pick(g.r, ops)
}

// scalar is one condition value for field f, as a client might send it.
func (g *gen) scalar(f domain.Field) any {
	switch f.Key {
	case domain.AttrStatus:
		return pick(g.r, statusSlugs)
	case domain.AttrCreatedAt, domain.AttrUpdatedAt:
		return g.stampBound()
	}
	switch f.Type {
	case domain.TypeNumber:
		n := g.number()
		switch g.r.IntN(4) {
		case 0:
			return json.Number(strconv.FormatFloat(n, 'g', -1, 64))
		case 1:
			return int(g.r.IntN(11) - 5)
		}
		return n
	case domain.TypeDatetime:
		if g.r.IntN(3) == 0 {
			return g.moment().In(time.FixedZone("", -(9*3600 + 30*60))).Format(time.RFC3339Nano)
		}
		return g.datetime()
	case domain.TypeRelation:
		if g.r.IntN(4) == 0 {
			return strings.ToUpper(pick(g.r, relations))
		}
	case domain.TypeMultiselect:
		return pick(g.r, selectOptions[f.Select])
	}
	return g.value(f)
}
