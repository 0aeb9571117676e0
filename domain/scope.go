package domain

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Scope is the one rule of which leads a token, or a webhook
// subscription, sees and may write: its account, its campaign (none for
// an account-level token) and its filter as it is now. Every read, write,
// document and delivery asks it (invariant 4). The zero Scope sees no
// lead of any account.
type Scope struct {
	AccountID  uuid.UUID
	CampaignID *uuid.UUID // nil: every campaign of the account
	filter     *Filter    // nil: every lead of the campaign
	closed     bool       // it names a filter that is gone: it admits no lead
}

// Scope descriptions, as GET /v1/schema and the documents say them.
const (
	ScopeEveryLead = "every lead of the campaign"
	ScopeNoLead    = "no lead: the token's filter was deleted"
)

// NewScope is the scope of a token (or subscription) of accountID bound to
// campaignID and naming filterID; filter is that filter as read now, nil
// when no live filter was found. A scope that names a filter it cannot
// have (missing, deleted, of another account or campaign) admits no lead.
func NewScope(accountID uuid.UUID, campaignID, filterID *uuid.UUID, filter *Filter) Scope {
	sc := Scope{AccountID: accountID, CampaignID: campaignID}
	if filterID == nil {
		return sc
	}
	if filter == nil || filter.Deleted || filter.ID != *filterID || filter.AccountID != accountID ||
		campaignID == nil || filter.CampaignID != *campaignID {
		sc.closed = true
		return sc
	}
	sc.filter = filter
	return sc
}

// MarshalJSON encodes everything the scope decides by, so that a digest
// of it (the documents' cache key) changes whenever its answers may.
func (sc Scope) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccountID  uuid.UUID  `json:"account_id"`
		CampaignID *uuid.UUID `json:"campaign_id"`
		Filter     *Filter    `json:"filter"`
		Closed     bool       `json:"closed"`
	}{sc.AccountID, sc.CampaignID, sc.filter, sc.closed})
}

// Filter is the scope's live filter; nil when it has none or it is gone.
func (sc Scope) Filter() *Filter { return sc.filter }

// Closed reports whether the scope names a filter that is gone: it then
// sees no lead, writes none, and documents no value of any select.
func (sc Scope) Closed() bool { return sc.closed }

// Narrowed reports whether the scope's view of a schema differs from the
// campaign's: a filter, or one that is gone.
func (sc Scope) Narrowed() bool { return sc.closed || sc.filter != nil }

// Owns reports whether the lead exists in the scope's account and
// campaign, whatever its values.
func (sc Scope) Owns(l Lead) bool {
	return l.Exists() && l.AccountID == sc.AccountID && (sc.CampaignID == nil || l.CampaignID == *sc.CampaignID)
}

// Admits reports whether a lead of the scope's campaign with these values
// is inside the scope: no lead when the filter is gone, every lead
// without a filter, the filter's matches otherwise.
func (sc Scope) Admits(s Schema, v LeadView) bool {
	return !sc.closed && (sc.filter == nil || sc.filter.Matches(s, v))
}

// Sees reports whether the lead is inside the scope now; s is the schema
// of the lead's campaign.
func (sc Scope) Sees(s Schema, l Lead) bool { return sc.Owns(l) && sc.Admits(s, l.View()) }

// Refuse explains why a lead written through the scope would be outside
// it, as a *ScopeError naming the first condition not met, or returns
// nil.
func (sc Scope) Refuse(s Schema, l Lead) error {
	switch {
	case sc.closed:
		return &ScopeError{Description: "the token's filter was deleted"}
	case sc.filter == nil:
		return nil
	}
	if cond, failing := sc.filter.FirstFailing(s, l.View()); failing {
		return &ScopeError{Condition: cond, Description: DescribeCondition(s, cond)}
	}
	return nil
}

// Schema is the campaign schema as the scope shows it: every field, and
// only the options and statuses a lead inside the scope can hold
// (Filter.NarrowSchema). A closed scope shows no option and no status.
// Writes through the scope are validated against it, so a value outside
// the scope is refused exactly like a value the campaign does not have.
func (sc Scope) Schema(s Schema) Schema {
	switch {
	case sc.closed:
		out := Schema{Fields: clone(s.Fields), Selects: cloneSelects(s.Selects), Statuses: []Status{}}
		for i := range out.Selects {
			out.Selects[i].Options = []Option{}
		}
		return out
	case sc.filter != nil:
		return sc.filter.NarrowSchema(s)
	}
	return s
}

// Options are the options of the select field key that a lead inside the
// scope may hold in it: none when the scope is closed, all without a
// filter. Schema shows, per select list, those of every field using it.
func (sc Scope) Options(s Schema, key string) []Option {
	fd, ok := s.Field(key)
	if !ok || sc.closed {
		return []Option{}
	}
	if sc.filter != nil {
		return sc.filter.FieldOptions(s, fd)
	}
	sl, _ := s.Select(fd.Select)
	return nonNil(clone(sl.Options))
}

// Defaults are the values a create through the scope fills in when the
// lead omits them: those its filter pins with eq conditions.
func (sc Scope) Defaults(s Schema) map[string]any {
	if sc.filter == nil {
		return map[string]any{}
	}
	return sc.filter.EqualityDefaults(s)
}

// Explain says in words which leads the scope sees.
func (sc Scope) Explain(s Schema) []string {
	switch {
	case sc.closed:
		return []string{ScopeNoLead}
	case sc.filter == nil:
		return []string{ScopeEveryLead}
	}
	return nonNil(sc.filter.Explain(s))
}

// CreateLead decides a lead created through the scope in a campaign of
// it, whose schema is s. A closed scope refuses with a *ScopeError before
// reading anything. Omitted fields and status that the filter pins are
// filled in and listed in defaulted. The values sent are validated
// against sc.Schema(s); an omitted status is the campaign's first. A lead
// that would still be outside the scope is a *ScopeError.
func (sc Scope) CreateLead(id, campaignID uuid.UUID, status string, input map[string]any, s Schema, at time.Time) (events []Event, defaulted []string, err error) {
	if sc.closed {
		return nil, nil, sc.Refuse(s, Lead{})
	}
	fields := make(map[string]any, len(input))
	for k, v := range input {
		fields[k] = v
	}
	for k, v := range sc.Defaults(s) {
		if k == AttrStatus {
			if status == "" {
				status, _ = v.(string)
				defaulted = append(defaulted, k)
			}
			continue
		}
		if _, given := fields[k]; !given {
			fields[k] = v
			defaulted = append(defaulted, k)
		}
	}
	sort.Strings(defaulted)
	view := sc.Schema(s)
	if status == "" && sc.Narrowed() {
		// The campaign's first status is not a value the client sent:
		// the filter, not validation, decides about it below.
		status = s.DefaultStatus()
		if !view.HasStatus(status) {
			view.Statuses = append(clone(view.Statuses), Status{Slug: status})
		}
	}
	if events, err = CreateLead(id, campaignID, sc.AccountID, status, fields, view, at); err != nil {
		return nil, nil, err
	}
	if err := sc.Refuse(s, FoldLead(events)); err != nil {
		return nil, nil, err
	}
	return events, defaulted, nil
}

// UpdateLead decides a change, through the scope, of a lead it sees; s is
// the schema of the lead's campaign. The values sent are validated against
// sc.Schema(s), and a change that would take the lead out of the scope is
// a *ScopeError. A lead the scope does not see is ErrLeadNotFound.
func (sc Scope) UpdateLead(l Lead, input map[string]any, status string, s Schema, at time.Time) ([]Event, error) {
	if !sc.Sees(s, l) {
		return nil, ErrLeadNotFound
	}
	events, err := l.Update(input, status, sc.Schema(s), at)
	if err != nil || len(events) == 0 {
		return events, err
	}
	if err := sc.Refuse(s, l.Preview(events)); err != nil {
		return nil, err
	}
	return events, nil
}

// ScopeError refuses a write that would leave the lead outside the
// scope's filter; it names the first condition not met, or none when the
// filter is gone.
type ScopeError struct {
	Condition   Condition
	Description string
}

func (e *ScopeError) Error() string {
	return "the lead would be outside the token's filter: " + e.Description
}
