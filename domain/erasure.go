package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ErasedMarker stands in the log, in place of every personal value of an
// erased lead: one JSON string whatever the value's type, so a reader
// tells an erased value from any value a lead could hold (no field type
// accepts it as written).
const ErasedMarker = "[erased]"

// MaxEraseReason bounds the reason of an erasure, in characters.
const MaxEraseReason = 500

// ErrLeadErased matches every *LeadErasedError.
var ErrLeadErased = errors.New("lead erased")

// LeadErasedError refuses a read or a write of an erased lead.
type LeadErasedError struct{ At time.Time }

func (e *LeadErasedError) Error() string {
	return "the lead was erased at " + e.At.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrLeadErased) hold.
func (e *LeadErasedError) Is(target error) bool { return target == ErrLeadErased }

// DefaultPersonal is whether a field of type t holds personal data when the
// admin has not said: free text and contact details do; choices, numbers,
// dates and flags do not, so counts by them survive an erasure.
func DefaultPersonal(t FieldType) bool {
	switch t {
	case TypeText, TypeTextarea, TypeEmail, TypePhone, TypeURL:
		return true
	}
	return false
}

// IsPersonal reports whether the field's values are personal data.
func (f Field) IsPersonal() bool {
	if f.Personal != nil {
		return *f.Personal
	}
	return DefaultPersonal(f.Type)
}

// withPersonalDefaults sets the flag of the fields that have none to their
// type's default, so that a campaign's state always says.
func withPersonalDefaults(fs []Field) []Field {
	for i := range fs {
		if fs[i].Personal == nil {
			fs[i].Personal = ptrTo(DefaultPersonal(fs[i].Type))
		}
	}
	return fs
}

// WithPersonalDefaults returns the schema with every field's personal flag
// set, for showing a schema stored before the flag existed.
func (s Schema) WithPersonalDefaults() Schema {
	s.Fields = withPersonalDefaults(clone(s.Fields))
	return s
}

// personalKey reports whether a lead's value under key is erased: a
// personal field's, or one the schema no longer knows (nothing says it is
// not personal).
func (s Schema) personalKey(key string) bool {
	f, ok := s.Field(key)
	return !ok || f.IsPersonal()
}

func ptrTo[T any](v T) *T { return &v }

// ErasedRow is what lead.erased records of one event row it scrubbed: the
// row's stored hash and the SHA-256 digest of its scrubbed form (both hex),
// against which the chain is verified from then on.
type ErasedRow struct {
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
	Digest  string `json:"digest"`
}

// LeadErased: the lead's personal values were erased from every event of
// its stream. It holds no personal data: the keys of the fields erased,
// who asked and why, and per scrubbed row what verification needs.
type LeadErased struct {
	LeadID uuid.UUID `json:"lead_id"`
	Reason string    `json:"reason"`
	Actor  string    `json:"actor,omitempty"` // the token that asked
	Fields []string  `json:"fields"`          // keys whose values were erased
	// ChainIntact is whether the stream's hash chain verified when the
	// erasure began; a break then stays reported afterwards.
	ChainIntact bool        `json:"chain_intact"`
	Rows        []ErasedRow `json:"rows"`
	At          time.Time   `json:"at"`
}

// EventType names, stable in the log.
func (LeadErased) EventType() string { return "lead.erased" }

// Erased reports whether the lead was erased.
func (l Lead) Erased() bool { return !l.ErasedAt.IsZero() }

// ErasedError is the refusal of anything done to the erased lead.
func (l Lead) ErasedError() error { return &LeadErasedError{At: l.ErasedAt} }

// Erase decides the erasure of the lead's personal values: the fields
// erased are its personal ones (and any the schema no longer has). The
// rows and the chain's state are the event store's to fill in, inside the
// erasure's transaction. Erasing an erased lead is a *LeadErasedError.
func (l Lead) Erase(reason, actor string, s Schema, at time.Time) (LeadErased, error) {
	switch {
	case !l.Exists():
		return LeadErased{}, ErrLeadNotFound
	case l.Erased():
		return LeadErased{}, l.ErasedError()
	}
	v := &ValidationError{}
	switch {
	case !validText(v, "reason", reason):
	case reason == "":
		v.Add("reason", CodeRequired, "say why the lead is erased")
	case utf8.RuneCountInString(reason) > MaxEraseReason:
		v.Add("reason", CodeInvalidValue, "at most %d characters", MaxEraseReason)
	}
	if err := v.Err(); err != nil {
		return LeadErased{}, err
	}
	keys := []string{}
	for k := range l.Fields {
		if s.personalKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return LeadErased{LeadID: l.ID, Reason: reason, Actor: actor, Fields: keys, At: at}, nil
}

// ScrubLeadEvent returns the stored data of one event of a lead's stream
// with every personal value replaced by ErasedMarker: the values of
// personal fields (and of fields the schema no longer has), and a file's
// name and content digest. Other members are kept as stored; changed is
// false when the event holds nothing to erase.
func ScrubLeadEvent(eventType string, data json.RawMessage, s Schema) (out json.RawMessage, changed bool, err error) {
	var member string
	switch eventType {
	case LeadCreated{}.EventType(), LeadUpdated{}.EventType():
		member = "fields"
	case FileAttached{}.EventType():
		member = "file"
	default:
		return data, false, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, false, fmt.Errorf("scrub %s: %w", eventType, err)
	}
	raw, ok := doc[member]
	if !ok || string(raw) == "null" {
		return data, false, nil
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil {
		return nil, false, fmt.Errorf("scrub %s.%s: %w", eventType, member, err)
	}
	marker, _ := json.Marshal(ErasedMarker)
	for k, v := range inner {
		var erase bool
		if member == "fields" {
			erase = string(v) != "null" && s.personalKey(k)
		} else {
			erase = k == "name" || k == "sha256"
		}
		if erase && string(v) != string(marker) {
			inner[k], changed = marker, true
		}
	}
	if !changed {
		return data, false, nil
	}
	if doc[member], err = json.Marshal(inner); err != nil {
		return nil, false, err
	}
	if out, err = json.Marshal(doc); err != nil {
		return nil, false, err
	}
	return out, true, nil
}
