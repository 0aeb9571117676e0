package domain

import (
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Lead is the lead aggregate.
type Lead struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	AccountID  uuid.UUID
	Status     string
	Fields     Fields
	Files      []FileMeta
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ErasedAt   time.Time // zero unless erased
}

// Exists reports whether the lead has been created.
func (l Lead) Exists() bool { return l.Version > 0 }

// View is what filters evaluate.
func (l Lead) View() LeadView {
	return LeadView{Status: l.Status, Fields: l.Fields, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
}

// Evolve applies one event.
func (l Lead) Evolve(e Event) Lead {
	switch e := e.(type) {
	case LeadCreated:
		l.ID, l.CampaignID, l.AccountID, l.Status = e.LeadID, e.CampaignID, e.AccountID, e.Status
		l.Fields = NormalizeStored(e.Fields)
		if l.Fields == nil {
			l.Fields = Fields{}
		}
		l.CreatedAt, l.UpdatedAt = e.At, e.At
	case LeadUpdated:
		next := make(Fields, len(l.Fields)+len(e.Fields))
		for k, v := range l.Fields {
			next[k] = v
		}
		for k, v := range NormalizeStored(e.Fields) {
			if v == nil {
				delete(next, k)
			} else {
				next[k] = v
			}
		}
		l.Fields = next
		if e.StatusTo != "" {
			l.Status = e.StatusTo
		}
		l.UpdatedAt = e.At
	case FileAttached:
		l.Files = append(clone(l.Files), e.File)
		l.UpdatedAt = e.At
	case FileRemoved:
		files := make([]FileMeta, 0, len(l.Files))
		for _, f := range l.Files {
			if f.ID != e.FileID {
				files = append(files, f)
			}
		}
		l.Files = files
		l.UpdatedAt = e.At
	case LeadErased:
		// The keys the event names, not the values found: a fold of
		// events delivered before the scrub still loses them.
		fields := make(Fields, len(l.Fields))
		for k, v := range l.Fields {
			if !slices.Contains(e.Fields, k) {
				fields[k] = v
			}
		}
		l.Fields, l.Files, l.ErasedAt, l.UpdatedAt = fields, nil, e.At, e.At
	}
	l.Version++
	return l
}

// FoldLead folds a lead's history.
func FoldLead(history []Event) Lead { return Fold(Lead{}, history) }

// CreateLead decides a new lead: fields validated against the schema, the
// status one of the campaign's (empty means the first).
func CreateLead(id, campaignID, accountID uuid.UUID, status string, input map[string]any, s Schema, at time.Time) ([]Event, error) {
	fields, err := s.ValidateFields(input, ModeCreate)
	v := &ValidationError{}
	if err := v.absorb(err); err != nil {
		return nil, err
	}
	if status == "" {
		status = s.DefaultStatus()
	} else if !s.HasStatus(status) {
		v.Add("status", CodeUnknownStatus, "%s is not a status of the campaign", quote(status))
	} else if s.StatusRetired(status) {
		v.Add("status", CodeRetired, "%s is a retired status: no lead moves to it", quote(status))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{LeadCreated{LeadID: id, CampaignID: campaignID, AccountID: accountID, Status: status, Fields: fields, At: at}}, nil
}

// Update decides a change of fields and status; the event holds only what
// actually changes, and no change is no event.
func (l Lead) Update(input map[string]any, status string, s Schema, at time.Time) ([]Event, error) {
	if !l.Exists() {
		return nil, ErrLeadNotFound
	}
	if l.Erased() {
		return nil, l.ErasedError()
	}
	fields, err := s.ValidateFieldsOf(input, ModeUpdate, l.Fields)
	v := &ValidationError{}
	if err := v.absorb(err); err != nil {
		return nil, err
	}
	switch {
	case status == "" || status == l.Status:
	case !s.HasStatus(status):
		v.Add("status", CodeUnknownStatus, "%s is not a status of the campaign", quote(status))
	case s.StatusRetired(status):
		v.Add("status", CodeRetired, "%s is a retired status: no lead moves to it", quote(status))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	changed := Fields{}
	for k, nv := range fields {
		old, had := l.Fields[k]
		if nv == nil && !had {
			continue
		}
		if had && reflect.DeepEqual(old, nv) {
			continue
		}
		changed[k] = nv
	}
	e := LeadUpdated{LeadID: l.ID, At: at}
	if len(changed) > 0 {
		e.Fields = changed
	}
	if status != "" && status != l.Status {
		e.StatusFrom, e.StatusTo = l.Status, status
	}
	if e.Fields == nil && e.StatusTo == "" {
		return nil, nil
	}
	return []Event{e}, nil
}

// Preview returns the lead as it would be after events, without deciding.
func (l Lead) Preview(events []Event) Lead { return Fold(l, events) }

// AttachFile decides a new file of the lead.
func (l Lead) AttachFile(f FileMeta, at time.Time) ([]Event, error) {
	if !l.Exists() {
		return nil, ErrLeadNotFound
	}
	if l.Erased() {
		return nil, l.ErasedError()
	}
	v := &ValidationError{}
	if validText(v, "file.name", f.Name) && (f.Name == "" || len(f.Name) > 255) {
		v.Add("file.name", CodeInvalidValue, "a file name of 1 to 255 characters is required")
	}
	if f.ContentType == "" {
		v.Add("file.content_type", CodeRequired, "a content type is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{FileAttached{LeadID: l.ID, File: f, At: at}}, nil
}

// RemoveFile decides the removal of a file of the lead.
func (l Lead) RemoveFile(id uuid.UUID, at time.Time) ([]Event, error) {
	if !l.Exists() {
		return nil, ErrLeadNotFound
	}
	if l.Erased() {
		return nil, l.ErasedError()
	}
	for _, f := range l.Files {
		if f.ID == id {
			return []Event{FileRemoved{LeadID: l.ID, FileID: id, At: at}}, nil
		}
	}
	return nil, ErrFileNotFound
}
