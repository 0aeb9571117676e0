package domain

import (
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FieldType is the type of a campaign field.
type FieldType string

// The field types a campaign schema may use.
const (
	TypeText        FieldType = "text"
	TypeTextarea    FieldType = "textarea"
	TypeNumber      FieldType = "number"
	TypeBoolean     FieldType = "boolean"
	TypeDate        FieldType = "date"
	TypeDatetime    FieldType = "datetime"
	TypeEmail       FieldType = "email"
	TypePhone       FieldType = "phone"
	TypeURL         FieldType = "url"
	TypeSelect      FieldType = "select"
	TypeMultiselect FieldType = "multiselect"
	TypeRelation    FieldType = "relation"
)

// FieldTypes lists every field type, in documentation order.
var FieldTypes = []FieldType{TypeText, TypeTextarea, TypeNumber, TypeBoolean, TypeDate, TypeDatetime,
	TypeEmail, TypePhone, TypeURL, TypeSelect, TypeMultiselect, TypeRelation}

// Field is one field of a campaign schema.
type Field struct {
	Key      string     `json:"key"`
	Label    string     `json:"label"`
	Type     FieldType  `json:"type"`
	Required bool       `json:"required"`
	Select   string     `json:"select,omitempty"`   // select key, for select and multiselect
	Campaign *uuid.UUID `json:"campaign,omitempty"` // target campaign, for relation
	// Retired fields keep their values on leads and refuse new ones.
	Retired bool `json:"retired,omitempty"`
	// Personal says whether the field's values are personal data, erased
	// with the lead; nil (fields recorded before the flag existed) is
	// DefaultPersonal of the type. Read it with IsPersonal.
	Personal *bool `json:"personal,omitempty"`
}

// Option is one value of a select list.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
	// Retired options stay valid on the leads and in the filters that have
	// them; new writes are refused.
	Retired bool `json:"retired,omitempty"`
}

// Select is a named option list, e.g. the "source" list naming partners.
type Select struct {
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Options []Option `json:"options"`
}

// Status is one lead status; the order of a schema's statuses is meaningful.
type Status struct {
	Slug  string `json:"slug"`
	Label string `json:"label"`
	// Retired statuses stay on the leads that have them; no lead moves to
	// one.
	Retired bool `json:"retired,omitempty"`
}

// Schema is what a campaign's leads look like.
type Schema struct {
	Fields   []Field  `json:"fields"`
	Selects  []Select `json:"selects"`
	Statuses []Status `json:"statuses"`
}

// Field returns the field with key.
func (s Schema) Field(key string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// Select returns the select list with key.
func (s Schema) Select(key string) (Select, bool) {
	for _, sl := range s.Selects {
		if sl.Key == key {
			return sl, true
		}
	}
	return Select{}, false
}

// HasStatus reports whether slug is one of the schema's statuses.
func (s Schema) HasStatus(slug string) bool {
	for _, st := range s.Statuses {
		if st.Slug == slug {
			return true
		}
	}
	return false
}

// DefaultStatus is the first active status: the one a lead gets when none
// is given.
func (s Schema) DefaultStatus() string {
	for _, st := range s.Statuses {
		if !st.Retired {
			return st.Slug
		}
	}
	return ""
}

// StatusRetired reports whether slug is a retired status of the schema.
func (s Schema) StatusRetired(slug string) bool {
	for _, st := range s.Statuses {
		if st.Slug == slug {
			return st.Retired
		}
	}
	return false
}

// OptionRetired reports whether value is a retired option of the select
// list key.
func (s Schema) OptionRetired(key, value string) bool {
	sl, _ := s.Select(key)
	for _, o := range sl.Options {
		if o.Value == value {
			return o.Retired
		}
	}
	return false
}

// HasOption reports whether value is an option of the select list key.
func (s Schema) HasOption(key, value string) bool {
	sl, ok := s.Select(key)
	if !ok {
		return false
	}
	for _, o := range sl.Options {
		if o.Value == value {
			return true
		}
	}
	return false
}

func (s Schema) optionValues(key string) []string {
	sl, _ := s.Select(key)
	vals := make([]string, len(sl.Options))
	for i, o := range sl.Options {
		vals[i] = o.Value
	}
	return vals
}

// activeOptionValues are the option values new writes may use.
func (s Schema) activeOptionValues(key string) []string {
	sl, _ := s.Select(key)
	vals := []string{}
	for _, o := range sl.Options {
		if !o.Retired {
			vals = append(vals, o.Value)
		}
	}
	return vals
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ReservedFieldKeys name lead attributes that are not schema fields.
var ReservedFieldKeys = map[string]bool{"id": true, "status": true, "created_at": true, "updated_at": true,
	"campaign_id": true, "version": true, "files": true}

// Validate reports every problem of the schema: key syntax and uniqueness,
// labels, select references, relation targets, options and statuses.
func (s Schema) Validate() error {
	v := &ValidationError{}
	selects := map[string]bool{}
	if !validCount(v, "selects", len(s.Selects), MaxSelects, "selects") {
		for _, sl := range s.Selects {
			selects[sl.Key] = true // so that fields naming them are not blamed too
		}
	} else {
		for i, sl := range s.Selects {
			p := indexPath("selects", i)
			validKey(v, p+".key", sl.Key)
			if selects[sl.Key] {
				v.Add(p+".key", CodeInvalidValue, "select %q is defined twice", sl.Key)
			}
			selects[sl.Key] = true
			validLabel(v, p+".label", sl.Label)
			if !validCount(v, p+".options", len(sl.Options), MaxOptions, "options") {
				continue
			}
			seen := map[string]bool{}
			for j, o := range sl.Options {
				validOption(v, indexPath(p+".options", j), o, seen)
			}
		}
	}
	fields := map[string]bool{}
	if validCount(v, "fields", len(s.Fields), MaxFields, "fields") {
		for i, f := range s.Fields {
			validField(v, indexPath("fields", i), f, fields, selects)
		}
	}
	if len(s.Statuses) == 0 {
		v.Add("statuses", CodeRequired, "at least one status is required")
	}
	slugs := map[string]bool{}
	if validCount(v, "statuses", len(s.Statuses), MaxStatuses, "statuses") {
		for i, st := range s.Statuses {
			validStatus(v, indexPath("statuses", i), st, slugs)
		}
	}
	if len(s.Statuses) > 0 && s.DefaultStatus() == "" {
		v.Add("statuses", CodeInvalidValue, "at least one status must not be retired: new leads get the first active one")
	}
	return v.Err()
}

func validKey(v *ValidationError, path, key string) {
	if !validText(v, path, key) {
		return
	}
	if !keyPattern.MatchString(key) {
		v.Add(path, CodeInvalidFormat, "%s must be lowercase letters, digits and _ starting with a letter (at most 63)", quote(key))
	}
}

func validOption(v *ValidationError, path string, o Option, seen map[string]bool) {
	switch {
	case o.Value == "":
		v.Add(path+".value", CodeInvalidValue, "an option value must be 1 to %d characters", MaxOptionValue)
	case !validText(v, path+".value", o.Value), !validLength(v, path+".value", o.Value, MaxOptionValue):
	case seen[o.Value]:
		v.Add(path+".value", CodeInvalidValue, "option %s is defined twice", quote(o.Value))
	}
	seen[o.Value] = true
	validLabel(v, path+".label", o.Label)
}

func validStatus(v *ValidationError, path string, st Status, seen map[string]bool) {
	if validText(v, path+".slug", st.Slug) && !keyPattern.MatchString(st.Slug) {
		v.Add(path+".slug", CodeInvalidFormat, "%s must be lowercase letters, digits and _ starting with a letter", quote(st.Slug))
	}
	if seen[st.Slug] {
		v.Add(path+".slug", CodeInvalidValue, "status %q is defined twice", st.Slug)
	}
	seen[st.Slug] = true
	validLabel(v, path+".label", st.Label)
}

func validField(v *ValidationError, path string, f Field, seen, selects map[string]bool) {
	validKey(v, path+".key", f.Key)
	if ReservedFieldKeys[f.Key] {
		v.Add(path+".key", CodeInvalidValue, "%q is reserved", f.Key)
	}
	if seen[f.Key] {
		v.Add(path+".key", CodeInvalidValue, "field %q is defined twice", f.Key)
	}
	seen[f.Key] = true
	validLabel(v, path+".label", f.Label)
	switch f.Type {
	case TypeSelect, TypeMultiselect:
		if !selects[f.Select] {
			v.Add(path+".select", CodeInvalidValue, "a %s field names one of the campaign's selects", f.Type)
		}
	case TypeRelation:
		if f.Campaign == nil || *f.Campaign == uuid.Nil {
			v.Add(path+".campaign", CodeRequired, "a relation field names its target campaign")
		}
	case TypeText, TypeTextarea, TypeNumber, TypeBoolean, TypeDate, TypeDatetime, TypeEmail, TypePhone, TypeURL:
	default:
		v.Add(path+".type", CodeInvalidValue, "unknown field type %s", quote(f.Type))
	}
	if f.Select != "" && f.Type != TypeSelect && f.Type != TypeMultiselect {
		v.Add(path+".select", CodeInvalidValue, "only select and multiselect fields name a select")
	}
}

func indexPath(p string, i int) string { return p + "[" + itoa(i) + "]" }

// Campaign is the campaign aggregate.
type Campaign struct {
	ID        uuid.UUID
	AccountID uuid.UUID
	Name      string
	Schema    Schema
	// Retention, when set, is the policy that erases its leads.
	Retention *Retention
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Exists reports whether the campaign has been created.
func (c Campaign) Exists() bool { return c.Version > 0 }

// Evolve applies one event.
func (c Campaign) Evolve(e Event) Campaign {
	switch e := e.(type) {
	case CampaignCreated:
		c.ID, c.AccountID, c.Name, c.CreatedAt, c.UpdatedAt = e.CampaignID, e.AccountID, e.Name, e.At, e.At
		c.Schema = Schema{Fields: clone(e.Fields), Selects: cloneSelects(e.Selects), Statuses: clone(e.Statuses)}
	case CampaignRenamed:
		c.Name, c.UpdatedAt = e.Name, e.At
	case SelectAdded:
		c.Schema.Selects = append(cloneSelects(c.Schema.Selects), e.Select)
		c.UpdatedAt = e.At
	case SelectOptionAdded:
		c.Schema.Selects = cloneSelects(c.Schema.Selects)
		for i := range c.Schema.Selects {
			if c.Schema.Selects[i].Key == e.Select {
				c.Schema.Selects[i].Options = append(c.Schema.Selects[i].Options, e.Option)
			}
		}
		c.UpdatedAt = e.At
	case FieldAdded:
		c.Schema.Fields = append(clone(c.Schema.Fields), e.Field)
		c.UpdatedAt = e.At
	case StatusAdded:
		c.Schema.Statuses = append(clone(c.Schema.Statuses), e.Status)
		c.UpdatedAt = e.At
	case SelectOptionChanged:
		c.Schema, c.UpdatedAt = evolveSchemaChange(c.Schema, e), e.At
	case FieldChanged:
		c.Schema, c.UpdatedAt = evolveSchemaChange(c.Schema, e), e.At
	case StatusDefinitionChanged:
		c.Schema, c.UpdatedAt = evolveSchemaChange(c.Schema, e), e.At
	case CampaignRetentionChanged:
		c.Retention, c.UpdatedAt = e.Retention, e.At
	}
	c.Version++
	return c
}

// FoldCampaign folds a campaign's history.
func FoldCampaign(history []Event) Campaign { return Fold(Campaign{}, history) }

// CreateCampaign decides the creation of a campaign with a valid schema.
func CreateCampaign(id, accountID uuid.UUID, name string, s Schema, at time.Time) ([]Event, error) {
	v := &ValidationError{}
	validName(v, "name", name)
	if err := v.absorb(s.Validate()); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{CampaignCreated{CampaignID: id, AccountID: accountID, Name: name,
		Fields: nonNil(s.Fields), Selects: nonNil(s.Selects), Statuses: s.Statuses, At: at}}, nil
}

// Rename decides a new name; the same name is a no-op.
func (c Campaign) Rename(name string, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	if err := validNameErr("name", name); err != nil {
		return nil, err
	}
	if name == c.Name {
		return nil, nil
	}
	return []Event{CampaignRenamed{CampaignID: c.ID, Name: name, At: at}}, nil
}

// AddSelect decides a new select list.
func (c Campaign) AddSelect(sl Select, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	next := c.Schema
	next.Selects = append(cloneSelects(next.Selects), sl)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	return []Event{SelectAdded{CampaignID: c.ID, Select: sl, At: at}}, nil
}

// AddSelectOption decides a new option of a select list: the first setup
// step for a partner ("add a source value").
func (c Campaign) AddSelectOption(selectKey string, o Option, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	sl, ok := c.Schema.Select(selectKey)
	if !ok {
		return nil, Invalid("select", CodeInvalidValue, "the campaign has no select %s", quote(selectKey))
	}
	v := &ValidationError{}
	if !validCount(v, "options", len(sl.Options)+1, MaxOptions, "options in select "+quote(selectKey)) {
		return nil, v
	}
	seen := map[string]bool{}
	for _, existing := range sl.Options {
		seen[existing.Value] = true
	}
	validOption(v, "option", o, seen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{SelectOptionAdded{CampaignID: c.ID, Select: selectKey, Option: o, At: at}}, nil
}

// AddField decides a new field. A new required field applies to writes
// from then on; existing leads keep their values.
func (c Campaign) AddField(f Field, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	next := c.Schema
	next.Fields = append(clone(next.Fields), f)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	return []Event{FieldAdded{CampaignID: c.ID, Field: f, At: at}}, nil
}

// AddStatus decides a new status, placed last.
func (c Campaign) AddStatus(st Status, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	next := c.Schema
	next.Statuses = append(clone(next.Statuses), st)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	return []Event{StatusAdded{CampaignID: c.ID, Status: st, At: at}}, nil
}

func validName(v *ValidationError, field, name string) {
	switch {
	case !validText(v, field, name), !validLength(v, field, name, MaxNameLength):
	case strings.TrimSpace(name) == "":
		v.Add(field, CodeInvalidValue, "a name of 1 to %d characters, not only spaces, is required", MaxNameLength)
	}
}

func validNameErr(field, name string) error {
	v := &ValidationError{}
	validName(v, field, name)
	return v.Err()
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func cloneSelects(s []Select) []Select {
	out := make([]Select, len(s))
	for i, sl := range s {
		sl.Options = clone(sl.Options)
		out[i] = sl
	}
	return out
}
