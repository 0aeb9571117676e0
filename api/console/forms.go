package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// Form inputs are named by the paths of the domain's field errors
// (name, conditions[0].op, selects[2].options), so an error finds its
// input by its path: an error belongs to the input whose name is the path
// or a prefix of it (selects[0].options[1].value is shown at the
// selects[0].options text area).

// fieldErr is one error of a submitted form.
type fieldErr struct {
	Field   string
	Message string
	// Where names the input for the error summary: "Condition 2, value".
	Where string
	// Anchor is the input the error summary links to.
	Anchor string
}

// formErrors are a submitted form's field errors.
type formErrors struct {
	List []fieldErr
}

// fieldError is a form error of one input.
func fieldError(field, msg string) *formErrors {
	return &formErrors{List: []fieldErr{{Field: field, Message: msg, Anchor: field, Where: where(field)}}}
}

// validation returns the errors of err when it is a validation error.
// inputs, when given, are the form's input names: the summary links each
// error to the input it is shown at.
func validation(err error, inputs ...string) *formErrors { return validationOf(err, nil, inputs...) }

// subjects tells what a form's error path is about (api.FieldSubject):
// the labels and values the admin typed or the campaign has.
type subjects func(path string) api.FieldSubject

// validationOf is validation with the form's subjects, so that messages
// name the admin's labels; the sentences come from api.PageFieldMessage,
// the one table of them. The same sentence twice at one input (a
// select field's list and the field itself) is shown once.
func validationOf(err error, subj subjects, inputs ...string) *formErrors {
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		return nil
	}
	out := &formErrors{}
	seen := map[[2]string]bool{}
	for _, fe := range verr.Errors {
		var s api.FieldSubject
		if subj != nil {
			s = subj(fe.Field)
		}
		msg := api.PageFieldMessage(fe, s)
		anchor := fe.Field
		if len(inputs) > 0 {
			anchor = ""
			for _, in := range inputs {
				if owns(in, fe.Field) && len(in) > len(anchor) {
					anchor = in
				}
			}
		}
		if k := [2]string{anchor, msg}; !seen[k] {
			seen[k] = true
			out.List = append(out.List, fieldErr{Field: fe.Field, Message: msg, Anchor: anchor, Where: where(fe.Field)})
		}
	}
	return out
}

var listNames = map[string]string{"fields": "Field", "selects": "Select list", "options": "option", "statuses": "Status",
	"conditions": "Condition", "any": "Group"}

var partNames = map[string]string{"op": "operator", "value2": "upper end", "expires_at": "expiry", "event_types": "event types",
	"match": "which leads"}

var pathPart = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?$`)

// pathNames name whole paths that the parts would name awkwardly.
var pathNames = map[string]string{"option.value": "New option", "option.label": "New option", "url": "Address"}

// where names an error's path for people: fields[2].key is "Field 3, key".
func where(path string) string {
	if n, ok := pathNames[path]; ok {
		return n
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		m := pathPart.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		name := strings.ReplaceAll(m[1], "_", " ")
		if n, ok := partNames[m[1]]; ok {
			name = n
		}
		if m[2] != "" {
			n, _ := strconv.Atoi(m[2])
			if l, ok := listNames[m[1]]; ok {
				name = l
			}
			name += " " + strconv.Itoa(n+1)
		}
		parts[i] = name
	}
	out := strings.Join(parts, ", ")
	out = strings.TrimSuffix(strings.TrimSuffix(out, " id"), ",")
	if out == "" {
		return ""
	}
	return strings.ToUpper(out[:1]) + out[1:]
}

// owns reports whether input name shows errors of path.
func owns(name, path string) bool {
	return path == name || strings.HasPrefix(path, name+".") || strings.HasPrefix(path, name+"[")
}

// formView is the state of one form of a page: submitted values and their
// errors, or nothing when that form was not the one submitted.
type formView struct {
	errs      *formErrors
	values    map[string][]string
	submitted bool
}

// Val is the submitted value of name, or def before a submission.
func (f formView) Val(name, def string) string {
	if !f.submitted {
		return def
	}
	if vs := f.values[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Checked reports whether value was submitted for name, or def before a
// submission.
func (f formView) Checked(name, value string, def bool) bool {
	if !f.submitted {
		return def
	}
	for _, v := range f.values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Messages are the errors shown at input name.
func (f formView) Messages(name string) []string {
	if f.errs == nil {
		return nil
	}
	var out []string
	for _, e := range f.errs.List {
		if owns(name, e.Field) {
			out = append(out, e.Message)
		}
	}
	return out
}

// Attrs are an input's id, name and, when it has errors, the attributes
// that tie them to it for assistive technology.
func (f formView) Attrs(name string) template.HTMLAttr { return f.AttrsAs(name, name) }

// AttrsAs is Attrs for an input whose id is made from key rather than its
// name, where a page repeats a form (one per select list).
func (f formView) AttrsAs(name, key string) template.HTMLAttr {
	id := fieldID(key)
	s := `id="` + id + `" name="` + html.EscapeString(name) + `"`
	if len(f.Messages(name)) > 0 {
		s += ` aria-invalid="true" aria-describedby="` + id + `-err"`
	}
	return template.HTMLAttr(s)
}

// Error is the markup of the errors shown at input name.
func (f formView) Error(name string) template.HTML { return f.ErrorAs(name, name) }

// ErrorAs is Error for an input whose id is made from key (AttrsAs).
func (f formView) ErrorAs(name, key string) template.HTML {
	msgs := f.Messages(name)
	if len(msgs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<p class="field-error" id="` + fieldID(key) + `-err">`)
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("<br>")
		}
		b.WriteString(`<span class="visually-hidden">Error: </span>` + html.EscapeString(m))
	}
	b.WriteString("</p>")
	return template.HTML(b.String())
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// fieldID is the element id of the input named name.
func fieldID(name string) string {
	return "f-" + strings.Trim(nonID.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// idempotency makes a create form's submission idempotent: the form
// carries a key drawn when it was shown, and a second submission of the
// same values (a double click, a reload) answers the first result instead
// of creating again. Keys are scoped to the signed-in token, like the
// API's Idempotency-Key.
func idempotency(r *http.Request) *commands.Idempotency {
	key := r.PostForm.Get("idem")
	if len(key) < 16 || len(key) > 64 {
		return nil
	}
	vals := url.Values{}
	for k, vs := range r.PostForm {
		if k != "csrf" {
			vals[k] = vs
		}
	}
	return &commands.Idempotency{TokenID: authFrom(r.Context()).token.ID.String(), Key: "console:" + key,
		Fingerprint: commands.Fingerprint([]byte(r.Method), []byte(r.URL.Path), []byte(vals.Encode()))}
}

// trimmed is a form value without surrounding spaces.
func trimmed(r *http.Request, name string) string { return strings.TrimSpace(r.PostForm.Get(name)) }

// formUUID parses an optional id input; a bad one is a field error.
func formUUID(v *domain.ValidationError, r *http.Request, name string) *uuid.UUID {
	s := trimmed(r, name)
	if s == "" {
		return nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		v.Add(name, domain.CodeInvalidFormat, "choose one from the list")
		return nil
	}
	return &id
}

// datetimeLocal is the layout of <input type="datetime-local">; the
// console reads and shows times in UTC.
const datetimeLocal = "2006-01-02T15:04"

// formTime parses an optional datetime-local input, in UTC.
func formTime(v *domain.ValidationError, r *http.Request, name string) *time.Time {
	s := trimmed(r, name)
	if s == "" {
		return nil
	}
	for _, layout := range []string{datetimeLocal, datetimeLocal + ":05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t = t.UTC()
			return &t
		}
	}
	v.Add(name, domain.CodeInvalidFormat, "enter a date and time such as 2026-12-31T18:00 (UTC)")
	return nil
}

// byPath is api.ByPath in the signed-in account.
func byPath[T any](r *http.Request, load func(context.Context, uuid.UUID, uuid.UUID) (T, error)) (T, error) {
	return api.ByPath(r, account(r).ID, load)
}

// inCampaign loads the resource of the path and the campaign it belongs
// to, both in the signed-in account.
func inCampaign[T any](c *Console, r *http.Request, load func(context.Context, uuid.UUID, uuid.UUID) (T, error),
	campaignOf func(T) uuid.UUID) (T, domain.Campaign, error) {
	v, err := byPath(r, load)
	if err != nil {
		var zero T
		return zero, domain.Campaign{}, err
	}
	camp, err := c.q.Campaign(r.Context(), account(r).ID, campaignOf(v))
	return v, camp, err
}

func fmtTime(t any) string {
	var tt time.Time
	switch x := t.(type) {
	case time.Time:
		tt = x
	case *time.Time:
		if x == nil {
			return "—"
		}
		tt = *x
	default:
		return "—"
	}
	if tt.IsZero() {
		return "—"
	}
	return tt.UTC().Format("2006-01-02 15:04 UTC")
}

// fmtValue shows a lead field's value as text; html/template escapes it.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		return strings.Join(x, ", ")
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmtValue(p)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

var permLabels = map[domain.Permission]string{domain.PermRead: "Read", domain.PermWrite: "Write",
	domain.PermAdmin: "Admin", domain.PermAudit: "Audit"}

func permLabel(p domain.Permission) string { return permLabels[p] }

// joinPerms names a token's permissions the way the console offers them.
func joinPerms(ps []domain.Permission) string {
	has := map[domain.Permission]bool{}
	for _, p := range ps {
		has[p] = true
	}
	if len(ps) == 1 && has[domain.PermRead] {
		return "Read"
	}
	if len(ps) == 2 && has[domain.PermRead] && has[domain.PermWrite] {
		return "Read + Write"
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, permLabel(p))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
