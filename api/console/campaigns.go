package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
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

// campaignForm is the new-campaign form: how many field rows it shows,
// the words of the field types and the campaigns a relation may target.
type campaignForm struct {
	Fields    []int
	Types     []typeChoice
	Campaigns []domain.Campaign // relation targets
	// Keys, Values and Slugs are what the server made of the labels sent,
	// shown where the admin left them to be made (the key inputs' and
	// text areas' placeholders).
	Keys   map[int]string
	Values map[int]string
	Slugs  string
	// DefaultStatuses are the statuses until the admin changes them.
	DefaultStatuses string
}

// typeChoice is one field type as the type picker offers it.
type typeChoice struct {
	Type domain.FieldType
	Word string
}

// typeWords name the field types in the admin's words, in the picker's
// order; every domain type has one.
var typeWords = []typeChoice{
	{Type: domain.TypeText, Word: "Text"},
	{Type: domain.TypeTextarea, Word: "Long text"},
	{Type: domain.TypeEmail, Word: "Email"},
	{Type: domain.TypePhone, Word: "Phone"},
	{Type: domain.TypeNumber, Word: "Number"},
	{Type: domain.TypeDate, Word: "Date"},
	{Type: domain.TypeDatetime, Word: "Date and time"},
	{Type: domain.TypeBoolean, Word: "Yes / no"},
	{Type: domain.TypeURL, Word: "Web address"},
	{Type: domain.TypeSelect, Word: "Select list (one choice)"},
	{Type: domain.TypeMultiselect, Word: "Select list (several choices)"},
	{Type: domain.TypeRelation, Word: "Link to a lead of another campaign"},
}

// typeWord is a field type in the admin's words.
func typeWord(t domain.FieldType) string {
	for _, c := range typeWords {
		if c.Type == t {
			return c.Word
		}
	}
	return string(t)
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
	return c.renderCampaignForm(w, r, http.StatusOK, 3, nil, nil)
}

// defaultStatuses are the new-campaign form's statuses until changed.
const defaultStatuses = "New\nContacted\nQualified\nWon\nLost"

func (c *Console) renderCampaignForm(w http.ResponseWriter, r *http.Request, status, fields int, made *madeSchema, errs *formErrors) error {
	cs, err := c.q.ListCampaigns(r.Context(), account(r).ID)
	if err != nil {
		return err
	}
	d := campaignForm{Fields: rows(fields), Types: typeWords, Campaigns: cs, Keys: map[int]string{}, Values: map[int]string{},
		Slugs: lines(statusesFrom(defaultStatuses, ""), func(s domain.Status) string { return s.Slug }), DefaultStatuses: defaultStatuses}
	if made != nil {
		d.Keys, d.Values, d.Slugs = made.keys, made.values, made.slugs
	}
	v := &view{Title: "New campaign", Section: "campaigns", Errors: errs, Idem: randomHex(16), Data: d}
	if r.Method == http.MethodPost {
		v.Form, v.Idem = r.PostForm, r.PostForm.Get("idem")
	}
	c.render(w, r, status, "campaign_new", v)
	return nil
}

const maxRows = 50

// madeSchema is a new campaign's schema read from its form, with what was
// made of the labels and where each part came from.
type madeSchema struct {
	schema domain.Schema
	keys   map[int]string // the key made of each field row's label
	values map[int]string // the option values made of each row's options, one a line
	slugs  string         // the status slugs made of the labels, one a line
	// fieldRow and selectRow are the form row of each field and select
	// list of the schema: a select field's options are a list of its own.
	fieldRow, selectRow map[int]int
}

// createCampaign saves the new-campaign form, or with its "add a field"
// button shows it again with one more row. The admin types labels; keys,
// option values and status slugs are made from them unless typed.
// Blank rows are left out.
func (c *Console) createCampaign(w http.ResponseWriter, r *http.Request) error {
	nf := formCount(r, "nfields", 3, maxRows)
	v := &domain.ValidationError{}
	made := readCampaignForm(v, r, nf)
	if r.PostForm.Get("action") == "add_field" {
		return c.renderCampaignForm(w, r, http.StatusOK, min(nf+1, maxRows), made, nil)
	}
	err := v.Err()
	if err == nil {
		var res commands.CampaignResult
		res, err = c.cmd.CreateCampaign.Handle(r.Context(), commands.CreateCampaign{AccountID: account(r).ID, Name: trimmed(r, "name"),
			Schema: made.schema, Meta: meta(w, r), Idem: idempotency(r)})
		if err == nil {
			redirect(w, r, "/campaigns/"+res.Campaign.ID.String()+"?notice=campaign_created")
			return nil
		}
	}
	// A select field's list is shown at its field's row: its errors are
	// the field's.
	err = reindexAs(reindex(err, "fields", made.fieldRow), "selects", "fields", made.selectRow)
	inputs := []string{"name", "statuses", "slugs"}
	for i := range nf {
		p := "fields[" + strconv.Itoa(i) + "]"
		inputs = append(inputs, p+".key", p+".label", p+".type", p+".options", p+".campaign")
	}
	if errs := validationOf(err, made.subjects(), inputs...); errs != nil {
		return c.renderCampaignForm(w, r, http.StatusUnprocessableEntity, nf, made, errs)
	}
	return err
}

// readCampaignForm reads the new-campaign form's nf field rows and its
// statuses.
func readCampaignForm(v *domain.ValidationError, r *http.Request, nf int) *madeSchema {
	m := &madeSchema{keys: map[int]string{}, values: map[int]string{}, fieldRow: map[int]int{}, selectRow: map[int]int{}}
	for i := range nf {
		p := "fields[" + strconv.Itoa(i) + "]"
		label := trimmed(r, p+".label")
		m.keys[i] = keyFrom(label)
		f, blank := fieldFromForm(v, r, p)
		if blank {
			continue
		}
		if f.Key == "" {
			f.Key = m.keys[i]
		}
		if f.Type == domain.TypeSelect || f.Type == domain.TypeMultiselect {
			opts := optionsFrom(r.PostForm.Get(p+".options"), r.PostForm.Get(p+".values"))
			m.values[i] = lines(optionsFrom(r.PostForm.Get(p+".options"), ""), func(o domain.Option) string { return o.Value })
			f.Select = f.Key
			m.selectRow[len(m.schema.Selects)] = i
			m.schema.Selects = append(m.schema.Selects, domain.Select{Key: f.Key, Label: f.Label, Options: opts})
		}
		m.fieldRow[len(m.schema.Fields)] = i
		m.schema.Fields = append(m.schema.Fields, f)
	}
	m.schema.Statuses = statusesFrom(r.PostForm.Get("statuses"), r.PostForm.Get("slugs"))
	m.slugs = lines(statusesFrom(r.PostForm.Get("statuses"), ""), func(s domain.Status) string { return s.Slug })
	return m
}

// subjects names what the errors of the form are about: a field row's
// key, an option's label and its field's label, a status's slug.
func (m *madeSchema) subjects() subjects {
	return func(path string) api.FieldSubject {
		mt := indexed.FindStringSubmatch(path)
		if mt == nil {
			return api.FieldSubject{}
		}
		i, _ := strconv.Atoi(mt[2])
		switch mt[1] {
		case "fields":
			k := -1
			for at, row := range m.fieldRow {
				if row == i {
					k = at
				}
			}
			if k < 0 {
				return api.FieldSubject{}
			}
			f := m.schema.Fields[k]
			s := api.FieldSubject{Label: f.Label, Value: f.Key}
			if om := optionPath.FindStringSubmatch(mt[3]); om != nil {
				j, _ := strconv.Atoi(om[1])
				sl, _ := m.schema.Select(f.Select)
				if j < len(sl.Options) {
					s = api.FieldSubject{Label: sl.Options[j].Label, Value: sl.Options[j].Value, List: f.Label}
				}
			}
			return s
		case "statuses":
			if i < len(m.schema.Statuses) {
				return api.FieldSubject{Label: m.schema.Statuses[i].Label, Value: m.schema.Statuses[i].Slug}
			}
		}
		return api.FieldSubject{}
	}
}

var optionPath = regexp.MustCompile(`^\.options\[(\d+)\]`)

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
func reindex(err error, list string, rows map[int]int) error { return reindexAs(err, list, list, rows) }

// reindexAs is reindex that also renames the list, for a part of the
// schema shown in another's row: a select field's list (selects[k]) at
// its field's row (fields[row]).
func reindexAs(err error, list, as string, rows map[int]int) error {
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
				fe.Field = as + "[" + strconv.Itoa(row) + "]" + m[3]
				fe.Message = strings.Replace(fe.Message, from, fe.Field, 1)
			}
		}
		out.Errors = append(out.Errors, fe)
	}
	return out
}

// nonBlankLines are the trimmed lines of s that hold something.
func nonBlankLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// madeOf pairs each label with the line of made at its place (trimmed),
// or, where that is blank or missing, with what make makes of the label.
func madeOf(labels []string, made string, mk func(string) string) []string {
	typed := strings.Split(made, "\n")
	out := make([]string, len(labels))
	for i, l := range labels {
		if i < len(typed) {
			out[i] = strings.TrimSpace(typed[i])
		}
		if out[i] == "" {
			out[i] = mk(l)
		}
	}
	return out
}

// optionsFrom reads options as labels, one a line, and their values, the
// lines of values at the same places; a value not typed is made from its
// label (Partner ABC → partner-abc).
func optionsFrom(labels, values string) []domain.Option {
	ls := nonBlankLines(labels)
	vs := madeOf(ls, values, func(l string) string { return slug(l, "-") })
	out := make([]domain.Option, len(ls))
	for i := range ls {
		out[i] = domain.Option{Value: vs[i], Label: ls[i]}
	}
	return out
}

// statusesFrom reads statuses as labels, one a line, and their slugs as
// optionsFrom reads options (Call back → call_back).
func statusesFrom(labels, slugs string) []domain.Status {
	ls := nonBlankLines(labels)
	ss := madeOf(ls, slugs, keyFrom)
	out := make([]domain.Status, len(ls))
	for i := range ls {
		out[i] = domain.Status{Slug: ss[i], Label: ls[i]}
	}
	return out
}

// lines joins what get reads of each item, one a line.
func lines[T any](items []T, get func(T) string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = get(it)
	}
	return strings.Join(out, "\n")
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slugFold spells the letters of European labels in a–z, so that
// "Første kontakt" makes forste_kontakt rather than f_rste_kontakt. The
// console's script makes the same keys as the admin types (slugFoldJSON).
var slugFold = [][2]string{{"æ", "ae"}, {"ø", "o"}, {"å", "a"}, {"ä", "a"}, {"ö", "o"}, {"ü", "u"}, {"ß", "ss"},
	{"é", "e"}, {"è", "e"}, {"ê", "e"}, {"ë", "e"}, {"á", "a"}, {"à", "a"}, {"â", "a"}, {"ã", "a"}, {"í", "i"},
	{"ì", "i"}, {"î", "i"}, {"ï", "i"}, {"ó", "o"}, {"ò", "o"}, {"ô", "o"}, {"õ", "o"}, {"ú", "u"}, {"ù", "u"},
	{"û", "u"}, {"ñ", "n"}, {"ç", "c"}, {"ý", "y"}, {"ÿ", "y"}, {"œ", "oe"}, {"ð", "d"}, {"þ", "th"}, {"ł", "l"},
	{"š", "s"}, {"ž", "z"}, {"č", "c"}, {"ř", "r"}, {"ě", "e"}, {"ů", "u"}, {"ń", "n"}, {"ś", "s"}, {"ź", "z"},
	{"ż", "z"}, {"ą", "a"}, {"ę", "e"}}

// slugFoldText is slugFold as JSON for the console's script, made once.
var slugFoldText = func() string {
	m := make(map[string]string, len(slugFold))
	for _, p := range slugFold {
		m[p[0]] = p[1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}()

// slugFoldJSON is slugFoldText for the templates.
func slugFoldJSON() string { return slugFoldText }

var slugFolder = func() *strings.Replacer {
	var pairs []string
	for _, p := range slugFold {
		pairs = append(pairs, p[0], p[1])
	}
	return strings.NewReplacer(pairs...)
}()

// slug makes a value from a label: lowercase letters a–z and digits
// joined by sep.
func slug(label, sep string) string {
	return strings.Trim(nonSlug.ReplaceAllString(slugFolder.Replace(strings.ToLower(label)), sep), sep)
}

// maxKey is the longest key the domain takes.
const maxKey = 63

// keyFrom makes a field key or status slug from a label, within the
// domain's key rule (a letter first, then a–z, 0–9 and _): "E-mail
// address" → e_mail_address, "2nd phone" → n_2nd_phone. A label with
// no letter or digit makes "", for the admin to type a key.
func keyFrom(label string) string {
	k := slug(label, "_")
	if k != "" && (k[0] < 'a' || k[0] > 'z') {
		k = "n_" + k
	}
	if len(k) > maxKey {
		k = strings.TrimRight(k[:maxKey], "_")
	}
	return k
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
		if errs := validationOf(err, changeSubjects(camp, cmd)); errs != nil {
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

// changeSubjects names what the errors of a schema change are about: the
// option that already has a value, a new field's or status's key.
func changeSubjects(camp domain.Campaign, cmd commands.ChangeCampaign) subjects {
	return func(path string) api.FieldSubject {
		switch {
		case cmd.AddOption != nil && strings.HasPrefix(path, "option."):
			o := cmd.AddOption.Option
			sl, _ := camp.Schema.Select(cmd.AddOption.Select)
			s := api.FieldSubject{Label: o.Label, List: sl.Label, Value: o.Value}
			for _, had := range sl.Options {
				if had.Value == o.Value {
					s.Label = had.Label
				}
			}
			return s
		case cmd.AddField != nil && strings.HasSuffix(path, ".key"):
			return api.FieldSubject{Label: cmd.AddField.Label, Value: cmd.AddField.Key}
		case cmd.AddStatus != nil && strings.HasSuffix(path, ".slug"):
			return api.FieldSubject{Label: cmd.AddStatus.Label, Value: cmd.AddStatus.Slug}
		case cmd.AddSelect != nil && strings.Contains(path, ".options["):
			if m := indexed.FindStringSubmatch(path); m != nil {
				if om := optionPath.FindStringSubmatch(m[3]); om != nil {
					j, _ := strconv.Atoi(om[1])
					if j < len(cmd.AddSelect.Options) {
						o := cmd.AddSelect.Options[j]
						return api.FieldSubject{Label: o.Label, List: cmd.AddSelect.Label, Value: o.Value}
					}
				}
			}
		case cmd.AddSelect != nil && strings.HasSuffix(path, ".key"):
			return api.FieldSubject{Label: cmd.AddSelect.Label, Value: cmd.AddSelect.Key}
		}
		return api.FieldSubject{}
	}
}

func (c *Console) renameCampaign(w http.ResponseWriter, r *http.Request) error {
	name := trimmed(r, "name")
	return c.changeCampaign(w, r, "rename", "renamed", commands.ChangeCampaign{Rename: &name}, nil)
}

func (c *Console) addField(w http.ResponseWriter, r *http.Request) error {
	p := "fields[" + r.PostForm.Get("index") + "]"
	v := &domain.ValidationError{}
	f, _ := fieldFromForm(v, r, p)
	if f.Key == "" {
		f.Key = keyFrom(f.Label)
	}
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
	sl := domain.Select{Key: trimmed(r, p+".key"), Label: trimmed(r, p+".label"),
		Options: optionsFrom(r.PostForm.Get(p+".options"), r.PostForm.Get(p+".values"))}
	if sl.Key == "" {
		sl.Key = keyFrom(sl.Label)
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
		st.Slug = keyFrom(st.Label)
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
