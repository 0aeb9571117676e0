package domain_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// scopeWorld is what the property test draws from: one campaign schema
// of two accounts' worth of ids, and a generator of filters, scopes and
// leads over it.
type scopeWorld struct {
	r                  *rand.Rand
	schema             domain.Schema
	accounts           [2]uuid.UUID
	campaigns          [2]uuid.UUID
	optionPool         []string // option values, and some the campaign lacks
	statusPool         []string
	names              []string
	at                 time.Time
	created, validated int
}

func newScopeWorld(seed uint64) *scopeWorld {
	w := &scopeWorld{r: rand.New(rand.NewPCG(seed, seed^0x5c09e)), at: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	w.accounts = [2]uuid.UUID{uuid.New(), uuid.New()}
	w.campaigns = [2]uuid.UUID{uuid.New(), uuid.New()}
	w.schema = domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "partners"},
			{Key: "referrer", Label: "Referrer", Type: domain.TypeSelect, Select: "partners"},
			{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "tags"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
		},
		Selects: []domain.Select{
			{Key: "partners", Label: "Partners", Options: []domain.Option{{Value: "abc", Label: "ABC"}, {Value: "xyz", Label: "XYZ"},
				{Value: "web", Label: "Web"}, {Value: "fair", Label: "Fair"}}},
			{Key: "tags", Label: "Tags", Options: []domain.Option{{Value: "hot", Label: "Hot"}, {Value: "cold", Label: "Cold"}, {Value: "vip", Label: "VIP"}}},
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "open", Label: "Open"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
	w.optionPool = []string{"abc", "xyz", "web", "fair", "hot", "cold", "vip", "nope", "zzz"}
	w.statusPool = []string{"new", "open", "won", "lost", "gone"}
	w.names = []string{"Ada", "Bob", "ada lovelace", ""}
	return w
}

func (w *scopeWorld) pick(from []string) string { return from[w.r.IntN(len(from))] }

// condition draws one condition, valid or not for the schema.
func (w *scopeWorld) condition() domain.Condition {
	ops := domain.Ops
	op := ops[w.r.IntN(len(ops))]
	c := domain.Condition{Op: op}
	switch w.r.IntN(5) {
	case 0:
		c.Field = domain.AttrStatus
	case 1:
		c.Field = "source"
	case 2:
		c.Field = "tags"
	case 3:
		c.Field = "budget"
	default:
		c.Field = w.pick([]string{"name", "referrer"})
	}
	scalar := func() any {
		switch c.Field {
		case domain.AttrStatus:
			return w.pick(w.statusPool)
		case "budget":
			return float64(w.r.IntN(5) * 100)
		case "name":
			return w.pick(w.names[:3])
		}
		return w.pick(w.optionPool)
	}
	switch op {
	case domain.OpEmpty, domain.OpNotEmpty:
	case domain.OpIn, domain.OpNotIn:
		c.Value = []any{scalar(), scalar()}
	case domain.OpBetween:
		c.Value = []any{float64(100), float64(300)}
	default:
		c.Value = scalar()
	}
	return c
}

// filter draws a filter of the first campaign and account whose
// conditions the schema accepts.
func (w *scopeWorld) filter() domain.Filter {
	valid := func(n int) []domain.Condition {
		var out []domain.Condition
		for range n {
			if cs, err := domain.ValidateConditions([]domain.Condition{w.condition()}, w.schema); err == nil {
				out = append(out, cs...)
			}
		}
		return out
	}
	f := domain.Filter{ID: uuid.New(), AccountID: w.accounts[0], CampaignID: w.campaigns[0], Name: "f", Version: 1,
		Conditions: valid(w.r.IntN(4))}
	for range w.r.IntN(3) {
		if g := valid(1 + w.r.IntN(3)); len(g) > 0 {
			f.Any = append(f.Any, g)
		}
	}
	return f
}

// scope draws a token's scope: mostly the first campaign with the filter,
// sometimes without one, with one that is gone, deleted, of another
// campaign, or account-level.
func (w *scopeWorld) scope(f domain.Filter) domain.Scope {
	campaign := w.campaigns[0]
	switch w.r.IntN(10) {
	case 0:
		return domain.NewScope(w.accounts[0], &campaign, nil, nil)
	case 1:
		return domain.NewScope(w.accounts[0], nil, nil, nil)
	case 2:
		missing := uuid.New()
		return domain.NewScope(w.accounts[0], &campaign, &missing, nil)
	case 3:
		deleted := f
		deleted.Deleted = true
		return domain.NewScope(w.accounts[0], &campaign, &f.ID, &deleted)
	case 4:
		other := w.campaigns[1]
		return domain.NewScope(w.accounts[0], &other, &f.ID, &f)
	case 5:
		return domain.NewScope(w.accounts[1], &campaign, &f.ID, &f)
	}
	return domain.NewScope(w.accounts[0], &campaign, &f.ID, &f)
}

// input draws lead fields, sometimes with values the schema refuses.
func (w *scopeWorld) input() map[string]any {
	in := map[string]any{}
	if w.r.IntN(4) > 0 {
		in["name"] = w.pick(w.names)
	}
	for _, k := range []string{"source", "referrer"} {
		if w.r.IntN(3) > 0 {
			in[k] = w.pick(w.optionPool)
		}
	}
	if w.r.IntN(2) == 0 {
		var tags []any
		for range w.r.IntN(3) {
			tags = append(tags, w.pick([]string{"hot", "cold", "vip", "warm"}))
		}
		in["tags"] = tags
	}
	if w.r.IntN(2) == 0 {
		in["budget"] = float64(w.r.IntN(6) * 100)
	}
	return in
}

// lead draws an existing lead of the world, valid for the schema.
func (w *scopeWorld) lead() domain.Lead {
	for {
		status := ""
		if w.r.IntN(4) > 0 {
			status = w.pick(w.statusPool[:4])
		}
		events, err := domain.CreateLead(uuid.New(), w.campaigns[w.r.IntN(4)/3], w.accounts[w.r.IntN(5)/4], status, w.input(), w.schema, w.at)
		if err == nil {
			return domain.FoldLead(events)
		}
	}
}

// holdsEveryCondition is the filter's meaning, condition by condition.
func holdsEveryCondition(s domain.Schema, f domain.Filter, v domain.LeadView) bool {
	for _, c := range f.Conditions {
		if !domain.EvalCondition(s, c, v) {
			return false
		}
	}
	for _, g := range f.Any {
		if !slices.ContainsFunc(g, func(c domain.Condition) bool { return domain.EvalCondition(s, c, v) }) {
			return false
		}
	}
	return true
}

// valuesShown reports whether every select value and the status of the
// lead are in the schema sc shows.
func valuesShown(shown domain.Schema, l domain.Lead) error {
	if !shown.HasStatus(l.Status) {
		return fmt.Errorf("status %q is not shown", l.Status)
	}
	for _, f := range shown.Fields {
		var vals []string
		switch x := l.Fields[f.Key].(type) {
		case string:
			if f.Type == domain.TypeSelect {
				vals = []string{x}
			}
		case []string:
			vals = x
		}
		for _, v := range vals {
			if !shown.HasOption(f.Select, v) {
				return fmt.Errorf("%s %q is not shown", f.Key, v)
			}
		}
	}
	return nil
}

// TestScopeProperties checks the scope rule over random filters, scopes
// and leads: what it admits meets every condition; a write it accepts
// leaves a lead it sees; its schema shows every value of a lead it sees;
// a value outside it is refused like an unknown one; a scope whose filter
// is gone admits, accepts and shows nothing.
func TestScopeProperties(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	w := newScopeWorld(seed)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	for range 3000 {
		f := w.filter()
		sc := w.scope(f)
		shown := sc.Schema(w.schema)
		l := w.lead()

		// What the scope sees.
		sees := sc.Sees(w.schema, l)
		if sees && (!sc.Owns(l) || sc.Closed() || sc.Filter() != nil && !holdsEveryCondition(w.schema, *sc.Filter(), l.View())) {
			fail("sees lead %+v outside %+v", l, sc)
		}
		if sc.Owns(l) && !sc.Closed() && sc.Filter() == nil && !sees {
			fail("a scope without a filter hides a lead of its campaign: %+v", l)
		}
		if sees {
			if err := valuesShown(shown, l); err != nil {
				fail("a lead the scope sees holds a value its schema hides: %v (%+v, filter %+v)", err, l.Fields, f)
			}
		}

		// A create through the scope.
		status := ""
		if w.r.IntN(2) == 0 {
			status = w.pick(w.statusPool)
		}
		campaign := w.campaigns[0]
		if sc.CampaignID != nil {
			campaign = *sc.CampaignID
		}
		events, _, err := sc.CreateLead(uuid.New(), campaign, status, w.input(), w.schema, w.at)
		var (
			verr *domain.ValidationError
			serr *domain.ScopeError
		)
		switch {
		case err == nil:
			w.created++
			if created := domain.FoldLead(events); !sc.Sees(w.schema, created) {
				fail("created %+v outside the scope (filter %+v)", created, f)
			}
		case sc.Closed() && !errors.As(err, &serr):
			fail("a create through a gone filter: %v", err)
		case !errors.As(err, &verr) && !errors.As(err, &serr):
			fail("a create refused with %T %v", err, err)
		}

		// An update through the scope.
		events, err = sc.UpdateLead(l, w.input(), status, w.schema, w.at)
		switch {
		case !sees && !errors.Is(err, domain.ErrLeadNotFound):
			fail("an update of a lead the scope does not see: %v", err)
		case sees && err == nil:
			if next := l.Preview(events); !sc.Sees(w.schema, next) {
				fail("updated %+v outside the scope (filter %+v)", next, f)
			}
		case sees && !errors.As(err, &verr) && !errors.As(err, &serr):
			fail("an update refused with %T %v", err, err)
		}

		// A value the scope does not show is refused as a value the
		// campaign lacks is, whichever it is.
		if sees {
			answer := func(in map[string]any, status, v, code string) string {
				_, err := sc.UpdateLead(l, in, status, w.schema, w.at)
				if !errors.As(err, &verr) || len(verr.Errors) != 1 || verr.Errors[0].Code != code {
					fail("%q outside the scope: %v", v, err)
				}
				return strings.ReplaceAll(err.Error(), v, "<value>")
			}
			for _, v := range []string{"abc", "xyz", "web", "fair", "nope"} {
				if !shown.HasOption("partners", v) {
					w.validated++
					if got, want := answer(map[string]any{"source": v}, "", v, domain.CodeUnknownOption),
						answer(map[string]any{"source": "zzz"}, "", "zzz", domain.CodeUnknownOption); got != want {
						fail("source %q is answered %q, an unknown one %q", v, got, want)
					}
				}
			}
			for _, v := range []string{"hot", "cold", "vip"} {
				if !shown.HasOption("tags", v) {
					w.validated++
					if got, want := answer(map[string]any{"tags": []any{v}}, "", v, domain.CodeUnknownOption),
						answer(map[string]any{"tags": []any{"zzz"}}, "", "zzz", domain.CodeUnknownOption); got != want {
						fail("tag %q is answered %q, an unknown one %q", v, got, want)
					}
				}
			}
			for _, v := range w.statusPool {
				if !shown.HasStatus(v) {
					w.validated++
					if got, want := answer(nil, v, v, domain.CodeUnknownStatus), answer(nil, "zzz", "zzz", domain.CodeUnknownStatus); got != want {
						fail("status %q is answered %q, an unknown one %q", v, got, want)
					}
				}
			}
		}

		// A gone filter shows nothing beyond the fields.
		if sc.Closed() {
			if len(shown.Statuses) != 0 || len(shown.Fields) != len(w.schema.Fields) {
				fail("a closed scope shows %+v", shown)
			}
			for _, sl := range shown.Selects {
				if len(sl.Options) != 0 {
					fail("a closed scope shows the options of %s", sl.Key)
				}
			}
		}

		// Without Any groups, a lead the scope sees keeps being seen
		// with its status set to any status the scope shows.
		if sees && len(f.Any) == 0 {
			for _, st := range shown.Statuses {
				moved := l
				moved.Status = st.Slug
				if !sc.Sees(w.schema, moved) {
					fail("shows status %q that takes a lead out of filter %+v", st.Slug, f)
				}
			}
		}
	}
	// The generator must reach the interesting cases.
	if w.created < 100 || w.validated < 100 {
		t.Fatalf("seed %d: only %d creates accepted and %d hidden options tried", seed, w.created, w.validated)
	}
}
