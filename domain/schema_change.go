package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ErrSchemaItemNotFound is a select, option, field or status a schema
// change names that the campaign does not have.
var ErrSchemaItemNotFound = errors.New("no such item in the campaign's schema")

// CodeRetired marks a write of a retired option, status or field.
const CodeRetired = "retired"

// SelectOptionChanged: an option's label or retirement changed; its value
// stays the stable identifier leads and filters hold.
type SelectOptionChanged struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Select     string    `json:"select"`
	Value      string    `json:"value"`
	Label      string    `json:"label"`
	Retired    bool      `json:"retired"`
	At         time.Time `json:"at"`
}

// FieldChanged: a field's label, requirement, retirement or position
// changed; its key and type stay.
type FieldChanged struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Key        string    `json:"key"`
	Label      string    `json:"label"`
	Required   bool      `json:"required"`
	Retired    bool      `json:"retired"`
	Position   int       `json:"position"` // 1 is first
	// Personal is the field's new personal flag when the change sets
	// it; nil keeps it (and events recorded before the flag existed).
	Personal *bool     `json:"personal,omitempty"`
	At       time.Time `json:"at"`
}

// StatusDefinitionChanged: a status's label, retirement or position
// changed; its slug stays. (lead.status_changed is a lead's own status.)
type StatusDefinitionChanged struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Slug       string    `json:"slug"`
	Label      string    `json:"label"`
	Retired    bool      `json:"retired"`
	Position   int       `json:"position"` // 1 is first
	At         time.Time `json:"at"`
}

// EventType names, stable in the log.
func (SelectOptionChanged) EventType() string { return "campaign.select_option_changed" }

// EventType names, stable in the log.
func (FieldChanged) EventType() string { return "campaign.field_changed" }

// EventType names, stable in the log.
func (StatusDefinitionChanged) EventType() string { return "campaign.status_definition_changed" }

// OptionChange is what an admin changes of an option; nil keeps.
type OptionChange struct {
	Label   *string
	Retired *bool
}

// FieldChange is what an admin changes of a field; nil keeps.
type FieldChange struct {
	Label    *string
	Required *bool
	Retired  *bool
	Position *int // 1 is first
	Personal *bool
}

// StatusChange is what an admin changes of a status; nil keeps.
type StatusChange struct {
	Label    *string
	Retired  *bool
	Position *int // 1 is first
}

// ChangeOption decides a change of one option of a select list. Retiring
// keeps the option on the leads that have it and in the filters that name
// it; new writes are refused. No change is no event.
func (c Campaign) ChangeOption(selectKey, value string, ch OptionChange, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	sl, ok := c.Schema.Select(selectKey)
	if !ok {
		return nil, ErrSchemaItemNotFound
	}
	i := slices.IndexFunc(sl.Options, func(o Option) bool { return o.Value == value })
	if i < 0 {
		return nil, ErrSchemaItemNotFound
	}
	next := sl.Options[i]
	if ch.Label != nil {
		next.Label = *ch.Label
	}
	if ch.Retired != nil {
		next.Retired = *ch.Retired
	}
	v := &ValidationError{}
	validLabel(v, "label", next.Label)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if next == sl.Options[i] {
		return nil, nil
	}
	return []Event{SelectOptionChanged{CampaignID: c.ID, Select: selectKey, Value: value, Label: next.Label,
		Retired: next.Retired, At: at}}, nil
}

// ChangeField decides a change of one field. A retired field is not
// required and refuses new values; leads keep the values they have.
func (c Campaign) ChangeField(key string, ch FieldChange, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	i := slices.IndexFunc(c.Schema.Fields, func(f Field) bool { return f.Key == key })
	if i < 0 {
		return nil, ErrSchemaItemNotFound
	}
	cur := c.Schema.Fields[i]
	next := cur
	if ch.Label != nil {
		next.Label = *ch.Label
	}
	if ch.Required != nil {
		next.Required = *ch.Required
	}
	if ch.Retired != nil {
		next.Retired = *ch.Retired
	}
	if ch.Personal != nil && *ch.Personal != cur.IsPersonal() {
		next.Personal = ptrTo(*ch.Personal)
	}
	pos := i + 1
	v := &ValidationError{}
	if ch.Position != nil {
		pos = *ch.Position
		if pos < 1 || pos > len(c.Schema.Fields) {
			v.Add("position", CodeInvalidValue, "a position from 1 to %d", len(c.Schema.Fields))
		}
	}
	validLabel(v, "label", next.Label)
	if next.Retired && next.Required {
		v.Add("required", CodeInvalidValue, "a retired field cannot be required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if next == cur && pos == i+1 {
		return nil, nil
	}
	return []Event{FieldChanged{CampaignID: c.ID, Key: key, Label: next.Label, Required: next.Required,
		Retired: next.Retired, Position: pos, Personal: next.Personal, At: at}}, nil
}

// ChangeStatus decides a change of one status. At least one status stays
// active: a lead is created with the first active one.
func (c Campaign) ChangeStatus(slug string, ch StatusChange, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	i := slices.IndexFunc(c.Schema.Statuses, func(s Status) bool { return s.Slug == slug })
	if i < 0 {
		return nil, ErrSchemaItemNotFound
	}
	cur := c.Schema.Statuses[i]
	next := cur
	if ch.Label != nil {
		next.Label = *ch.Label
	}
	if ch.Retired != nil {
		next.Retired = *ch.Retired
	}
	pos := i + 1
	v := &ValidationError{}
	if ch.Position != nil {
		pos = *ch.Position
		if pos < 1 || pos > len(c.Schema.Statuses) {
			v.Add("position", CodeInvalidValue, "a position from 1 to %d", len(c.Schema.Statuses))
		}
	}
	validLabel(v, "label", next.Label)
	if next.Retired && !cur.Retired {
		active := 0
		for _, s := range c.Schema.Statuses {
			if !s.Retired {
				active++
			}
		}
		if active == 1 {
			v.Add("retired", CodeInvalidValue, "%s is the campaign's last active status", quote(slug))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if next == cur && pos == i+1 {
		return nil, nil
	}
	return []Event{StatusDefinitionChanged{CampaignID: c.ID, Slug: slug, Label: next.Label, Retired: next.Retired,
		Position: pos, At: at}}, nil
}

// evolveSchemaChange applies the schema change events to s.
func evolveSchemaChange(s Schema, e Event) Schema {
	switch e := e.(type) {
	case SelectOptionChanged:
		s.Selects = cloneSelects(s.Selects)
		for i := range s.Selects {
			if s.Selects[i].Key != e.Select {
				continue
			}
			for j := range s.Selects[i].Options {
				if o := &s.Selects[i].Options[j]; o.Value == e.Value {
					o.Label, o.Retired = e.Label, e.Retired
				}
			}
		}
	case FieldChanged:
		s.Fields = moveTo(clone(s.Fields), func(f Field) bool { return f.Key == e.Key }, e.Position, func(f *Field) {
			f.Label, f.Required, f.Retired = e.Label, e.Required, e.Retired
			if e.Personal != nil {
				f.Personal = ptrTo(*e.Personal)
			}
		})
	case StatusDefinitionChanged:
		s.Statuses = moveTo(clone(s.Statuses), func(st Status) bool { return st.Slug == e.Slug }, e.Position, func(st *Status) {
			st.Label, st.Retired = e.Label, e.Retired
		})
	}
	return s
}

// moveTo applies change to the item match finds and moves it to position
// (1 is first, clamped to the list).
func moveTo[T any](items []T, match func(T) bool, position int, change func(*T)) []T {
	i := slices.IndexFunc(items, match)
	if i < 0 {
		return items
	}
	it := items[i]
	change(&it)
	items = slices.Delete(items, i, i+1)
	position = min(max(position, 1), len(items)+1)
	return slices.Insert(items, position-1, it)
}
