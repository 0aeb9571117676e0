package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// notices are the messages a redirect after a change may show; a code in
// the URL picks one, so no URL can put its own words on a page.
var notices = map[string]string{
	"campaign_created": "Campaign created.",
	"renamed":          "Campaign renamed.",
	"field_added":      "Field added.",
	"select_added":     "Select list added.",
	"option_added":     "Option added.",
	"status_added":     "Status added.",
	"option_changed":   "Option saved. Partners' documents show it on their next visit.",
	"field_changed":    "Field saved. Partners' documents show it on their next visit.",
	"status_changed":   "Status saved. Partners' documents show it on their next visit.",
	"filter_created":   "Filter created.",
	"filter_saved":     "Filter saved.",
	"filter_deleted":   "Filter deleted. Tokens that used it now see no lead.",
	"token_created":    "Token created. Use Show to reveal its secret, and the link button to copy its documentation link.",
	"token_revoked":    "Token revoked. It stopped working at once.",
	"token_saved":      "Token saved. The change applies from its next request.",
	"webhook_deleted":  "Webhook deleted.",
	"webhook_test":     "A test event is on its way. Its delivery appears below in a moment.",
	"webhook_enabled":  "Webhook enabled.",
	"webhook_disabled": "Webhook disabled: nothing is sent to it until it is enabled again.",
	"redelivered":      "The deliveries are queued again.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }

// campaignOf loads the campaign of the path's {id} in the signed-in
// account: another account's is not found, like a missing one.
func (c *Console) campaignOf(r *http.Request) (domain.Campaign, error) {
	return byPath(r, c.q.Campaign)
}

// campaignFilters loads the campaign of the path and its filters.
func (c *Console) campaignFilters(r *http.Request) (domain.Campaign, []domain.Filter, error) {
	camp, err := c.campaignOf(r)
	if err != nil {
		return domain.Campaign{}, nil, err
	}
	fs, err := c.q.ListFilters(r.Context(), camp.AccountID, camp.ID)
	return camp, fs, err
}

func (c *Console) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	cs, err := c.q.ListCampaigns(r.Context(), account(r).ID)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "campaigns", &view{Title: "Campaigns", Section: "campaigns", Notice: notice(r), Data: cs})
	return nil
}

// campaignForm is the new-campaign form: how many rows of fields and
// selects it shows.
type campaignForm struct {
	Fields    []int
	Selects   []int
	Campaigns []domain.Campaign // relation targets
}

func rows(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// formCount reads a row count of a form, within 1..max.
func formCount(r *http.Request, name string, def, most int) int {
	n, err := strconv.Atoi(r.PostForm.Get(name))
	if err != nil {
		return def
	}
	return min(max(n, 1), most)
}

func (c *Console) newCampaign(w http.ResponseWriter, r *http.Request) error {
	return c.renderCampaignForm(w, r, http.StatusOK, 3, 1, nil)
}

func (c *Console) renderCampaignForm(w http.ResponseWriter, r *http.Request, status, fields, selects int, errs *formErrors) error {
	cs, err := c.q.ListCampaigns(r.Context(), account(r).ID)
	if err != nil {
		return err
	}
	v := &view{Title: "New campaign", Section: "campaigns", Errors: errs, Idem: randomHex(16),
		Data: campaignForm{Fields: rows(fields), Selects: rows(selects), Campaigns: cs}}
	if r.Method == http.MethodPost {
		v.Form, v.Idem = r.PostForm, r.PostForm.Get("idem")
	}
	c.render(w, r, status, "campaign_new", v)
	return nil
}

const maxRows = 50

// createCampaign saves the new-campaign form, or with "add a row"
// buttons shows it again with one more row. Blank rows are left out.
func (c *Console) createCampaign(w http.ResponseWriter, r *http.Request) error {
	nf, ns := formCount(r, "nfields", 3, maxRows), formCount(r, "nselects", 1, maxRows)
	switch r.PostForm.Get("action") {
	case "add_field":
		return c.renderCampaignForm(w, r, http.StatusOK, min(nf+1, maxRows), ns, nil)
	case "add_select":
		return c.renderCampaignForm(w, r, http.StatusOK, nf, min(ns+1, maxRows), nil)
	}
	v := &domain.ValidationError{}
	var schema domain.Schema
	var inputs []string
	fieldRow, selectRow := map[int]int{}, map[int]int{}
	for j := range ns {
		p := "selects[" + strconv.Itoa(j) + "]"
		inputs = append(inputs, p+".key", p+".label", p+".options")
		sl := domain.Select{Key: trimmed(r, p+".key"), Label: trimmed(r, p+".label"), Options: parseOptions(r.PostForm.Get(p + ".options"))}
		if sl.Key == "" && sl.Label == "" && len(sl.Options) == 0 {
			continue
		}
		selectRow[len(schema.Selects)] = j
		schema.Selects = append(schema.Selects, sl)
	}
	for i := range nf {
		p := "fields[" + strconv.Itoa(i) + "]"
		inputs = append(inputs, p+".key", p+".label", p+".type", p+".select", p+".campaign")
		f, blank := fieldFromForm(v, r, p)
		if blank {
			continue
		}
		fieldRow[len(schema.Fields)] = i
		schema.Fields = append(schema.Fields, f)
	}
	for _, s := range parseOptions(r.PostForm.Get("statuses")) {
		schema.Statuses = append(schema.Statuses, domain.Status{Slug: s.Value, Label: s.Label})
	}
	inputs = append(inputs, "name", "statuses")
	err := v.Err()
	if err == nil {
		var res commands.CampaignResult
		res, err = c.cmd.CreateCampaign.Handle(r.Context(), commands.CreateCampaign{AccountID: account(r).ID, Name: trimmed(r, "name"),
			Schema: schema, Meta: meta(w, r), Idem: idempotency(r)})
		if err == nil {
			redirect(w, r, "/campaigns/"+res.Campaign.ID.String()+"?notice=campaign_created")
			return nil
		}
	}
	err = reindex(reindex(err, "fields", fieldRow), "selects", selectRow)
	if errs := validation(err, inputs...); errs != nil {
		return c.renderCampaignForm(w, r, http.StatusUnprocessableEntity, nf, ns, errs)
	}
	return err
}

// fieldFromForm reads one field row (p is its path, fields[3]); blank
// rows are reported so that they can be left out.
func fieldFromForm(v *domain.ValidationError, r *http.Request, p string) (domain.Field, bool) {
	f := domain.Field{Key: trimmed(r, p+".key"), Label: trimmed(r, p+".label"), Type: domain.FieldType(trimmed(r, p+".type")),
		Required: r.PostForm.Get(p+".required") == "true"}
	if f.Key == "" && f.Label == "" {
		return f, true
	}
	switch f.Type {
	case domain.TypeSelect, domain.TypeMultiselect:
		f.Select = trimmed(r, p+".select")
	case domain.TypeRelation:
		f.Campaign = formUUID(v, r, p+".campaign")
	}
	return f, false
}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](.*)$`)

// reindex rewrites the errors' paths under list[k] to list[rows[k]]: the
// domain counts the non-blank rows, the form counts every row.
func reindex(err error, list string, rows map[int]int) error {
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	out := &domain.ValidationError{}
	for _, fe := range verr.Errors {
		if m := indexed.FindStringSubmatch(fe.Field); m != nil && m[1] == list {
			k, _ := strconv.Atoi(m[2])
			if row, ok := rows[k]; ok {
				from := fe.Field
				fe.Field = list + "[" + strconv.Itoa(row) + "]" + m[3]
				fe.Message = strings.Replace(fe.Message, from, fe.Field, 1)
			}
		}
		out.Errors = append(out.Errors, fe)
	}
	return out
}

// parseOptions reads "value | label" lines; a line without "|" is used as
// both, its value made from the label (Partner ABC → partner-abc).
func parseOptions(s string) []domain.Option {
	var out []domain.Option
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		value, label, ok := strings.Cut(line, "|")
		value, label = strings.TrimSpace(value), strings.TrimSpace(label)
		if !ok {
			label, value = value, slug(value, "-")
		}
		out = append(out, domain.Option{Value: value, Label: label})
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a value from a label: lowercase letters and digits joined
// by sep.
func slug(label, sep string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(label), sep), sep)
}

// campaignPage is the schema page: the campaign and the indexes its "add"
// forms use, so that errors about the new element name its inputs.
type campaignPage struct {
	NextField  int
	NextSelect int
	NextStatus int
	Campaigns  []domain.Campaign
}

func (c *Console) showCampaign(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	return c.renderCampaign(w, r, http.StatusOK, camp, "", nil)
}

func (c *Console) renderCampaign(w http.ResponseWriter, r *http.Request, status int, camp domain.Campaign, form string, errs *formErrors) error {
	cs, err := c.q.ListCampaigns(r.Context(), account(r).ID)
	if err != nil {
		return err
	}
	v := &view{Title: camp.Name, Section: "campaigns", Campaign: &camp, Tab: "schema", Notice: notice(r), Errors: errs, FormName: form,
		Data: campaignPage{NextField: len(camp.Schema.Fields), NextSelect: len(camp.Schema.Selects),
			NextStatus: len(camp.Schema.Statuses), Campaigns: cs}}
	if form != "" {
		v.Form = r.PostForm
	}
	c.render(w, r, status, "campaign", v)
	return nil
}

// changeCampaign runs one schema change from a form of the campaign page;
// a validation error shows that form again with its errors.
// Errors link to the inputs of their paths; anchors, when given, names
// other inputs for some of them.
func (c *Console) changeCampaign(w http.ResponseWriter, r *http.Request, form, done string, cmd commands.ChangeCampaign,
	anchors map[string]string) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	cmd.AccountID, cmd.CampaignID, cmd.Meta = camp.AccountID, camp.ID, meta(w, r)
	if _, err := c.cmd.ChangeCampaign.Handle(r.Context(), cmd); err != nil {
		if errs := validation(err); errs != nil {
			for i, e := range errs.List {
				if a, ok := anchors[e.Field]; ok {
					errs.List[i].Anchor = a
				}
			}
			return c.renderCampaign(w, r, http.StatusUnprocessableEntity, camp, form, errs)
		}
		return err
	}
	redirect(w, r, "/campaigns/"+camp.ID.String()+"?notice="+done)
	return nil
}

func (c *Console) renameCampaign(w http.ResponseWriter, r *http.Request) error {
	name := trimmed(r, "name")
	return c.changeCampaign(w, r, "rename", "renamed", commands.ChangeCampaign{Rename: &name}, nil)
}

func (c *Console) addField(w http.ResponseWriter, r *http.Request) error {
	p := "fields[" + r.PostForm.Get("index") + "]"
	v := &domain.ValidationError{}
	f, _ := fieldFromForm(v, r, p)
	if err := v.Err(); err != nil {
		camp, cerr := c.campaignOf(r)
		if cerr != nil {
			return cerr
		}
		return c.renderCampaign(w, r, http.StatusUnprocessableEntity, camp, "add_field", validation(err))
	}
	return c.changeCampaign(w, r, "add_field", "field_added", commands.ChangeCampaign{AddField: &f}, nil)
}

func (c *Console) addSelect(w http.ResponseWriter, r *http.Request) error {
	p := "selects[" + r.PostForm.Get("index") + "]"
	sl := domain.Select{Key: trimmed(r, p+".key"), Label: trimmed(r, p+".label"), Options: parseOptions(r.PostForm.Get(p + ".options"))}
	if sl.Options == nil {
		sl.Options = []domain.Option{}
	}
	return c.changeCampaign(w, r, "add_select", "select_added", commands.ChangeCampaign{AddSelect: &sl}, nil)
}

// addOption adds an option to a select list; an empty value is made from
// the label, as product users think in labels ("Partner ABC").
func (c *Console) addOption(w http.ResponseWriter, r *http.Request) error {
	o := domain.Option{Value: trimmed(r, "option.value"), Label: trimmed(r, "option.label")}
	if o.Value == "" {
		o.Value = slug(o.Label, "-")
	}
	key := chi.URLParam(r, "key")
	return c.changeCampaign(w, r, "add_option:"+key, "option_added#select-"+url.QueryEscape(key),
		commands.ChangeCampaign{AddOption: &commands.SelectOption{Select: key, Option: o}},
		map[string]string{"option.label": "opt-" + key + "-label", "option.value": "opt-" + key + "-value", "select": "opt-" + key + "-select"})
}

func (c *Console) addStatus(w http.ResponseWriter, r *http.Request) error {
	p := "statuses[" + r.PostForm.Get("index") + "]"
	st := domain.Status{Slug: trimmed(r, p+".slug"), Label: trimmed(r, p+".label")}
	if st.Slug == "" {
		st.Slug = slug(st.Label, "_")
	}
	return c.changeCampaign(w, r, "add_status", "status_added", commands.ChangeCampaign{AddStatus: &st}, nil)
}

// schemaEdit reads the campaign version a schema edit form was shown at
// (If-Match: a change made meanwhile is refused, not overwritten) and the
// retire/restore choice of its button.
func schemaEdit(r *http.Request) (version int64, retired *bool) {
	version, _ = strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	switch r.PostForm.Get("retired") {
	case "true":
		t := true
		retired = &t
	case "false":
		f := false
		retired = &f
	}
	return version, retired
}

// optionalText is a form input that changes only when sent non-empty.
func optionalText(r *http.Request, name string) *string {
	if _, sent := r.PostForm[name]; !sent {
		return nil
	}
	v := trimmed(r, name)
	return &v
}

// optionalPosition is a position input (1 is first); empty keeps.
func optionalPosition(v *domain.ValidationError, r *http.Request, name string) *int {
	s := trimmed(r, name)
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		v.Add(name, domain.CodeInvalidValue, "a position is a whole number, 1 being first")
		return nil
	}
	return &n
}

// editOption renames, retires or restores an option of a select list.
func (c *Console) editOption(w http.ResponseWriter, r *http.Request) error {
	key, value := chi.URLParam(r, "key"), chi.URLParam(r, "value")
	if r.URL.RawPath != "" { // chi matched the escaped path
		if v, err := url.PathUnescape(value); err == nil {
			value = v
		}
	}
	version, retired := schemaEdit(r)
	form := "edit_option:" + key + ":" + value
	return c.changeCampaign(w, r, form, "option_changed#select-"+url.QueryEscape(key), commands.ChangeCampaign{IfMatch: version,
		EditOption: &commands.OptionEdit{Select: key, Value: value, Change: domain.OptionChange{Label: optionalText(r, "label"), Retired: retired}}},
		map[string]string{"label": "opt-" + key + "-" + value + "-edit"})
}

// editField renames, moves, requires or retires a field.
func (c *Console) editField(w http.ResponseWriter, r *http.Request) error {
	key := chi.URLParam(r, "key")
	version, retired := schemaEdit(r)
	v := &domain.ValidationError{}
	ch := domain.FieldChange{Label: optionalText(r, "label"), Retired: retired, Position: optionalPosition(v, r, "position")}
	switch _, shown := r.PostForm["required_shown"]; {
	case retired != nil && *retired:
		no := false // a retired field is never required
		ch.Required = &no
	case shown:
		req := r.PostForm.Get("required") == "true"
		ch.Required = &req
	}
	anchors := map[string]string{"label": "field-" + key + "-label", "position": "field-" + key + "-position", "required": "field-" + key + "-required"}
	if err := v.Err(); err != nil {
		camp, cerr := c.campaignOf(r)
		if cerr != nil {
			return cerr
		}
		errs := validation(err)
		for i, e := range errs.List {
			errs.List[i].Anchor = anchors[e.Field]
		}
		return c.renderCampaign(w, r, http.StatusUnprocessableEntity, camp, "edit_field:"+key, errs)
	}
	return c.changeCampaign(w, r, "edit_field:"+key, "field_changed#fields-h", commands.ChangeCampaign{IfMatch: version,
		EditField: &commands.FieldEdit{Key: key, Change: ch}}, anchors)
}

// editStatus renames, moves or retires a status.
func (c *Console) editStatus(w http.ResponseWriter, r *http.Request) error {
	slug := chi.URLParam(r, "slug")
	version, retired := schemaEdit(r)
	v := &domain.ValidationError{}
	ch := domain.StatusChange{Label: optionalText(r, "label"), Retired: retired, Position: optionalPosition(v, r, "position")}
	anchors := map[string]string{"label": "status-" + slug + "-label", "position": "status-" + slug + "-position", "retired": "status-" + slug + "-label"}
	if err := v.Err(); err != nil {
		camp, cerr := c.campaignOf(r)
		if cerr != nil {
			return cerr
		}
		return c.renderCampaign(w, r, http.StatusUnprocessableEntity, camp, "edit_status:"+slug, validation(err))
	}
	return c.changeCampaign(w, r, "edit_status:"+slug, "status_changed#statuses-h", commands.ChangeCampaign{IfMatch: version,
		EditStatus: &commands.StatusEdit{Slug: slug, Change: ch}}, anchors)
}

// campaignNames maps the account's campaigns by id.
func campaignNames(cs []domain.Campaign) map[uuid.UUID]domain.Campaign {
	out := make(map[uuid.UUID]domain.Campaign, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out
}
