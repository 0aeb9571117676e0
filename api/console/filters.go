package console

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// The condition editor offers what the domain accepts: the campaign's
// fields and the lead attributes, the operators that fit each type, and a
// select's options (or the statuses) as choices. The domain validates
// again on save; TestConditionEditorOffersWhatTheDomainAccepts keeps the
// two in step.

// statusType is the pseudo type of the status attribute.
const statusType domain.FieldType = "status"

// opsFor are the operators a condition on a field of type t may use.
func opsFor(t domain.FieldType) []domain.Op {
	out := []domain.Op{domain.OpEq, domain.OpNeq, domain.OpIn, domain.OpNotIn}
	switch t {
	case domain.TypeText, domain.TypeTextarea, domain.TypeEmail, domain.TypePhone, domain.TypeURL, domain.TypeMultiselect:
		out = append(out, domain.OpContains)
	case domain.TypeNumber, domain.TypeDate, domain.TypeDatetime:
		out = append(out, domain.OpGt, domain.OpGte, domain.OpLt, domain.OpLte, domain.OpBetween)
	}
	out = append(out, domain.OpEmpty, domain.OpNotEmpty)
	slices.SortFunc(out, func(a, b domain.Op) int { return slices.Index(domain.Ops, a) - slices.Index(domain.Ops, b) })
	return out
}

var opLabels = map[domain.Op]string{domain.OpEq: "is", domain.OpNeq: "is not", domain.OpIn: "is one of",
	domain.OpNotIn: "is none of", domain.OpContains: "contains", domain.OpEmpty: "is empty", domain.OpNotEmpty: "is not empty",
	domain.OpGt: "is greater than", domain.OpGte: "is at least", domain.OpLt: "is less than", domain.OpLte: "is at most",
	domain.OpBetween: "is between"}

// filterField is one field the editor offers.
type filterField struct {
	Key     string           `json:"-"`
	Label   string           `json:"-"`
	Type    domain.FieldType `json:"type"`
	Choices []domain.Option  `json:"choices,omitempty"`
	Hint    string           `json:"hint,omitempty"`
}

// filterFields are the campaign's fields and the lead attributes.
func filterFields(s domain.Schema) []filterField {
	var out []filterField
	for _, f := range s.Fields {
		ff := filterField{Key: f.Key, Label: f.Label + " (" + f.Key + ")", Type: f.Type}
		switch f.Type {
		case domain.TypeSelect, domain.TypeMultiselect:
			if sl, ok := s.Select(f.Select); ok {
				ff.Choices = sl.Options
			}
		case domain.TypeBoolean:
			ff.Choices = []domain.Option{{Value: "true", Label: "Yes"}, {Value: "false", Label: "No"}}
		}
		ff.Hint = typeHints[f.Type]
		out = append(out, ff)
	}
	st := filterField{Key: domain.AttrStatus, Label: "Status", Type: statusType}
	for _, s := range s.Statuses {
		st.Choices = append(st.Choices, domain.Option{Value: s.Slug, Label: s.Label})
	}
	return append(out, st,
		filterField{Key: domain.AttrCreatedAt, Label: "Created at", Type: domain.TypeDatetime, Hint: typeHints[domain.TypeDatetime]},
		filterField{Key: domain.AttrUpdatedAt, Label: "Updated at", Type: domain.TypeDatetime, Hint: typeHints[domain.TypeDatetime]})
}

var typeHints = map[domain.FieldType]string{
	domain.TypeNumber:   "a number, such as 1000",
	domain.TypeDate:     "a date, such as 2026-03-01",
	domain.TypeDatetime: "a date and time, such as 2026-03-01T09:00:00Z",
	domain.TypeRelation: "a lead id",
}

func fieldOf(fields []filterField, key string) (filterField, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f, true
		}
	}
	return filterField{}, false
}

// opChoice is one operator of a condition row.
type opChoice struct {
	Op       domain.Op
	Label    string
	Fits     bool // the operator applies to the row's field
	Selected bool
}

// condRow is one condition of the editor, as entered.
type condRow struct {
	Index    int
	Field    string
	Op       string
	Value    string // the text value (in and not_in: comma separated)
	Value2   string // between's upper end
	Chosen   []string
	Ops      []opChoice
	Choices  []domain.Option
	Hint     string
	Multiple bool // in, not_in: several choices
	NoValue  bool // empty, not_empty
	Between  bool
}

// Picked reports whether a choice is selected.
func (c condRow) Picked(value string) bool { return slices.Contains(c.Chosen, value) }

// Path is the input name of one part of the row (field, op, value…).
func (c condRow) Path(part string) string { return "conditions[" + strconv.Itoa(c.Index) + "]." + part }

// complete fills in what the row's field and operator imply.
func (c *condRow) complete(fields []filterField) {
	f, ok := fieldOf(fields, c.Field)
	fits := domain.Ops
	if ok {
		fits = opsFor(f.Type)
		c.Choices, c.Hint = f.Choices, f.Hint
	}
	// An operator that does not fit stays as entered: the domain refuses
	// it, and the form shows it with the error.
	if c.Op == "" {
		c.Op = string(fits[0])
	}
	c.Ops = nil
	for _, op := range domain.Ops {
		c.Ops = append(c.Ops, opChoice{Op: op, Label: opLabels[op], Fits: slices.Contains(fits, op), Selected: string(op) == c.Op})
	}
	op := domain.Op(c.Op)
	c.Multiple = op == domain.OpIn || op == domain.OpNotIn
	c.NoValue = op == domain.OpEmpty || op == domain.OpNotEmpty
	c.Between = op == domain.OpBetween
}

// rowOf shows a saved condition in the editor.
func rowOf(i int, cond domain.Condition) condRow {
	row := condRow{Index: i, Field: cond.Field, Op: string(cond.Op)}
	var vals []string
	switch v := cond.Value.(type) {
	case nil:
	case []any:
		for _, x := range v {
			vals = append(vals, fmtCondValue(x))
		}
	case []string:
		vals = v
	default:
		vals = []string{fmtCondValue(v)}
	}
	row.Chosen = vals
	switch {
	case cond.Op == domain.OpBetween && len(vals) == 2:
		row.Value, row.Value2 = vals[0], vals[1]
	default:
		row.Value = strings.Join(vals, ", ")
	}
	return row
}

func fmtCondValue(v any) string {
	if b, ok := v.(bool); ok {
		return strconv.FormatBool(b)
	}
	return fmtValue(v)
}

// rowsFromForm reads the editor's rows as entered.
func rowsFromForm(r *http.Request) []condRow {
	n := formCount(r, "rows", 1, maxRows)
	out := make([]condRow, 0, n)
	for i := range n {
		row := condRow{Index: i}
		row.Field, row.Op = trimmed(r, row.Path("field")), trimmed(r, row.Path("op"))
		row.Value, row.Value2 = trimmed(r, row.Path("value")), trimmed(r, row.Path("value2"))
		row.Chosen = r.PostForm[row.Path("choice")]
		out = append(out, row)
	}
	return out
}

// condition turns a row into a condition for the domain to validate; a
// value that cannot be the field's type (a number that is not one) is a
// field error here. Rows without a field are blank.
func (c condRow) condition(v *domain.ValidationError, fields []filterField) (domain.Condition, bool) {
	if c.Field == "" {
		return domain.Condition{}, false
	}
	cond := domain.Condition{Field: c.Field, Op: domain.Op(c.Op)}
	f, _ := fieldOf(fields, c.Field)
	if c.NoValue {
		return cond, true
	}
	var vals []string
	switch {
	case f.Choices != nil:
		vals = c.Chosen
	case c.Multiple:
		for _, s := range strings.Split(c.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				vals = append(vals, s)
			}
		}
	case c.Between:
		vals = []string{c.Value, c.Value2}
	case c.Value != "":
		vals = []string{c.Value}
	}
	typed := make([]any, 0, len(vals))
	for _, s := range vals {
		switch f.Type {
		case domain.TypeNumber:
			n, err := strconv.ParseFloat(s, 64)
			if err != nil {
				v.Add(c.Path("value"), domain.CodeInvalidFormat, "%q is not a number", s)
				return cond, true
			}
			typed = append(typed, n)
		case domain.TypeBoolean:
			typed = append(typed, s == "true")
		default:
			typed = append(typed, s)
		}
	}
	switch {
	case c.Multiple || c.Between:
		cond.Value = typed
	case len(typed) > 0:
		cond.Value = typed[0]
	}
	return cond, true
}

// filterForm is the editor's page.
type filterForm struct {
	Filter *domain.Filter // nil for a new filter
	// EveryLead is the saved filter's match: every lead, no condition.
	EveryLead bool
	Fields    []filterField
	Rows      []condRow
	Any       []string // the filter's any groups, in words: kept, not edited here
	Meta      map[string]any
	Version   int64
}

func (c *Console) listFilters(w http.ResponseWriter, r *http.Request) error {
	camp, fs, err := c.campaignFilters(r)
	if err != nil {
		return err
	}
	toks, err := c.q.ListTokens(r.Context(), camp.AccountID, &camp.ID)
	if err != nil {
		return err
	}
	type row struct {
		F         domain.Filter
		Explain   []string
		EveryLead bool
		Tokens    int
	}
	var out []row
	for _, f := range fs {
		n := 0
		for _, t := range toks {
			if t.FilterID != nil && *t.FilterID == f.ID && t.RevokedAt == nil {
				n++
			}
		}
		out = append(out, row{F: f, Explain: f.Explain(camp.Schema), EveryLead: f.Match() == domain.MatchAll, Tokens: n})
	}
	c.render(w, r, http.StatusOK, "filters", &view{Title: "Filters · " + camp.Name, Section: "campaigns", Campaign: &camp,
		Tab: "filters", Notice: notice(r), Data: out})
	return nil
}

func (c *Console) newFilter(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	return c.renderFilter(w, r, http.StatusOK, camp, nil, []condRow{{}}, nil)
}

func (c *Console) renderFilter(w http.ResponseWriter, r *http.Request, status int, camp domain.Campaign, f *domain.Filter,
	rows []condRow, errs *formErrors) error {
	fields := filterFields(camp.Schema)
	for i := range rows {
		rows[i].Index = i
		rows[i].complete(fields)
	}
	meta := map[string]any{"fields": map[string]filterField{}, "ops": map[domain.FieldType][]domain.Op{}}
	for _, ff := range fields {
		meta["fields"].(map[string]filterField)[ff.Key] = ff
		meta["ops"].(map[domain.FieldType][]domain.Op)[ff.Type] = opsFor(ff.Type)
	}
	data := filterForm{Filter: f, Fields: fields, Rows: rows, Meta: meta}
	title := "New filter · " + camp.Name
	if f != nil {
		title = f.Name + " · " + camp.Name
		data.Version, data.EveryLead = f.Version, f.Match() == domain.MatchAll
		for _, g := range f.Any {
			parts := make([]string, len(g))
			for i, cond := range g {
				parts[i] = domain.DescribeCondition(camp.Schema, cond)
			}
			data.Any = append(data.Any, "any of: "+strings.Join(parts, " or "))
		}
	}
	v := &view{Title: title, Section: "campaigns", Campaign: &camp, Tab: "filters", Errors: errs, Idem: randomHex(16), Data: data}
	if r.Method == http.MethodPost {
		v.Form, v.Idem = r.PostForm, r.PostForm.Get("idem")
	}
	c.render(w, r, status, "filter", v)
	return nil
}

// editorAction handles the editor's "add a condition" and "remove"
// buttons: the form comes back with one row more or less, unsaved.
func editorAction(r *http.Request, rows []condRow) ([]condRow, bool) {
	action := r.PostForm.Get("action")
	switch {
	case action == "add" && len(rows) < maxRows:
		return append(rows, condRow{}), true
	case strings.HasPrefix(action, "remove:"):
		i, err := strconv.Atoi(strings.TrimPrefix(action, "remove:"))
		if err == nil && i >= 0 && i < len(rows) {
			rows = slices.Delete(rows, i, i+1)
		}
		if len(rows) == 0 {
			rows = []condRow{{}}
		}
		return rows, true
	case action == "refresh":
		return rows, true
	}
	return rows, false
}

// matchOf is the editor's "Every lead of the campaign" choice.
func matchOf(r *http.Request) domain.FilterMatch {
	if r.PostForm.Get("match") == string(domain.MatchAll) {
		return domain.MatchAll
	}
	return domain.MatchConditions
}

// breadthErrors shows the domain's refusals of a filter's breadth (no
// condition, or conditions with "all") at the "Every lead of the
// campaign" choice; api.PageFieldMessage says them in the editor's words.
func breadthErrors(err error) error {
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	out := &domain.ValidationError{}
	for _, fe := range verr.Errors {
		if fe.Field == "conditions" && fe.Code == domain.CodeRequired {
			fe.Field, fe.Message = "match", "match: "+strings.TrimPrefix(fe.Message, "conditions: ")
		}
		out.Errors = append(out.Errors, fe)
	}
	return out
}

// matchSubject tells the sentences of the breadth errors which choice
// was sent.
func matchSubject(r *http.Request) subjects {
	return func(path string) api.FieldSubject {
		if path == "match" {
			return api.FieldSubject{Value: r.PostForm.Get("match")}
		}
		return api.FieldSubject{}
	}
}

// conditionsOf reads the editor's conditions, skipping blank rows; the
// map gives each condition's row, for the errors.
func conditionsOf(v *domain.ValidationError, rows []condRow, fields []filterField) ([]domain.Condition, map[int]int) {
	conds := []domain.Condition{}
	at := map[int]int{}
	for i := range rows {
		rows[i].complete(fields)
		if cond, ok := rows[i].condition(v, fields); ok {
			at[len(conds)] = i
			conds = append(conds, cond)
		}
	}
	return conds, at
}

func (c *Console) createFilter(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	rows := rowsFromForm(r)
	if rows, ok := editorAction(r, rows); ok {
		return c.renderFilter(w, r, http.StatusOK, camp, nil, rows, nil)
	}
	v := &domain.ValidationError{}
	conds, at := conditionsOf(v, rows, filterFields(camp.Schema))
	err = v.Err()
	if err == nil {
		var res commands.FilterResult
		res, err = c.cmd.CreateFilter.Handle(r.Context(), commands.CreateFilter{AccountID: camp.AccountID, CampaignID: camp.ID,
			Name: trimmed(r, "name"), Match: matchOf(r), Conditions: conds, Meta: meta(w, r), Idem: idempotency(r)})
		if err == nil {
			redirect(w, r, "/campaigns/"+camp.ID.String()+"/filters?notice=filter_created#filter-"+res.Filter.ID.String())
			return nil
		}
	}
	if errs := validationOf(breadthErrors(reindex(err, "conditions", at)), matchSubject(r)); errs != nil {
		return c.renderFilter(w, r, http.StatusUnprocessableEntity, camp, nil, rows, errs)
	}
	return err
}

// filterOf loads the filter of the path and its campaign.
func (c *Console) filterOf(r *http.Request) (domain.Filter, domain.Campaign, error) {
	return inCampaign(c, r, c.q.Filter, func(f domain.Filter) uuid.UUID { return f.CampaignID })
}

func (c *Console) editFilter(w http.ResponseWriter, r *http.Request) error {
	f, camp, err := c.filterOf(r)
	if err != nil {
		return err
	}
	rows := make([]condRow, 0, len(f.Conditions)+1)
	for i, cond := range f.Conditions {
		rows = append(rows, rowOf(i, cond))
	}
	if len(rows) == 0 {
		rows = append(rows, condRow{})
	}
	return c.renderFilter(w, r, http.StatusOK, camp, &f, rows, nil)
}

// updateFilter saves the editor over the version it was shown with: a
// change made meanwhile is a conflict, not overwritten. The filter's any
// groups, which the editor does not edit, are kept unless "Every lead of
// the campaign" is chosen.
func (c *Console) updateFilter(w http.ResponseWriter, r *http.Request) error {
	f, camp, err := c.filterOf(r)
	if err != nil {
		return err
	}
	rows := rowsFromForm(r)
	if rows, ok := editorAction(r, rows); ok {
		return c.renderFilter(w, r, http.StatusOK, camp, &f, rows, nil)
	}
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if version < 1 {
		version = f.Version
	}
	v := &domain.ValidationError{}
	conds, at := conditionsOf(v, rows, filterFields(camp.Schema))
	groups := f.Any
	if matchOf(r) == domain.MatchAll {
		groups = nil // every lead, on purpose: the groups go with the conditions
	}
	err = v.Err()
	if err == nil {
		_, err = c.cmd.UpdateFilter.Handle(r.Context(), commands.UpdateFilter{AccountID: f.AccountID, FilterID: f.ID,
			Name: trimmed(r, "name"), Match: matchOf(r), Conditions: conds, Any: groups, IfVersion: version, Meta: meta(w, r)})
		if err == nil {
			redirect(w, r, "/campaigns/"+camp.ID.String()+"/filters?notice=filter_saved#filter-"+f.ID.String())
			return nil
		}
	}
	if errs := validationOf(breadthErrors(reindex(err, "conditions", at)), matchSubject(r)); errs != nil {
		return c.renderFilter(w, r, http.StatusUnprocessableEntity, camp, &f, rows, errs)
	}
	return err
}

// confirmation is a page that asks before a change that cannot be undone.
type confirmation struct {
	Action  string // the form's target
	Heading string
	Lines   []string
	Button  string
	Back    string
	Choices []graceChoice // rotation only
}

func (c *Console) confirmDeleteFilter(w http.ResponseWriter, r *http.Request) error {
	f, camp, err := c.filterOf(r)
	if err != nil {
		return err
	}
	toks, err := c.tokensOfFilter(r, f)
	if err != nil {
		return err
	}
	lines := []string{"It lets through: " + strings.Join(f.Explain(camp.Schema), "; ") + "."}
	if len(toks) > 0 {
		lines = append(lines, strconv.Itoa(len(toks))+" token(s) use it ("+strings.Join(toks, ", ")+
			"). Once it is deleted, they see no lead at all.")
	}
	c.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete filter", Section: "campaigns", Campaign: &camp, Tab: "filters",
		Data: confirmation{Action: Prefix + "/filters/" + f.ID.String() + "/delete", Heading: "Delete the filter “" + f.Name + "”?",
			Lines: lines, Button: "Delete filter", Back: Prefix + "/campaigns/" + camp.ID.String() + "/filters"}})
	return nil
}

func (c *Console) tokensOfFilter(r *http.Request, f domain.Filter) ([]string, error) {
	toks, err := c.q.ListTokens(r.Context(), f.AccountID, &f.CampaignID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range toks {
		if t.FilterID != nil && *t.FilterID == f.ID && t.RevokedAt == nil {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

func (c *Console) deleteFilter(w http.ResponseWriter, r *http.Request) error {
	f, _, err := c.filterOf(r)
	if err != nil {
		return err
	}
	if _, err := c.cmd.UpdateFilter.Handle(r.Context(), commands.UpdateFilter{AccountID: f.AccountID, FilterID: f.ID, Delete: true,
		Meta: meta(w, r)}); err != nil {
		return err
	}
	redirect(w, r, "/campaigns/"+f.CampaignID.String()+"/filters?notice=filter_deleted")
	return nil
}

// filterLabel names a filter wherever one is listed or offered, saying
// so when it lets every lead through: such a filter must not pass for a
// narrow one.
func filterLabel(f domain.Filter) string {
	if f.Match() == domain.MatchAll {
		return f.Name + " (every lead)"
	}
	return f.Name
}

// filterNames maps filter ids to filters.
func filterNames(fs []domain.Filter) map[uuid.UUID]domain.Filter {
	out := make(map[uuid.UUID]domain.Filter, len(fs))
	for _, f := range fs {
		out[f.ID] = f
	}
	return out
}
