package domain

import (
	"time"

	"github.com/google/uuid"
)

// AccountCreated: an account (tenant) exists.
type AccountCreated struct {
	AccountID uuid.UUID `json:"account_id"`
	Name      string    `json:"name"`
	At        time.Time `json:"at"`
}

// CampaignCreated: a campaign and its initial schema.
type CampaignCreated struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	AccountID  uuid.UUID `json:"account_id"`
	Name       string    `json:"name"`
	Fields     []Field   `json:"fields"`
	Selects    []Select  `json:"selects"`
	Statuses   []Status  `json:"statuses"`
	At         time.Time `json:"at"`
}

// CampaignRenamed: the campaign's name changed.
type CampaignRenamed struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Name       string    `json:"name"`
	At         time.Time `json:"at"`
}

// SelectAdded: a new option list.
type SelectAdded struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Select     Select    `json:"select"`
	At         time.Time `json:"at"`
}

// SelectOptionAdded: a new option of a select list.
type SelectOptionAdded struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Select     string    `json:"select"`
	Option     Option    `json:"option"`
	At         time.Time `json:"at"`
}

// FieldAdded: a new schema field.
type FieldAdded struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Field      Field     `json:"field"`
	At         time.Time `json:"at"`
}

// StatusAdded: a new status, ordered last.
type StatusAdded struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Status     Status    `json:"status"`
	At         time.Time `json:"at"`
}

// FilterCreated: a new filter of a campaign.
type FilterCreated struct {
	FilterID   uuid.UUID     `json:"filter_id"`
	CampaignID uuid.UUID     `json:"campaign_id"`
	AccountID  uuid.UUID     `json:"account_id"`
	Name       string        `json:"name"`
	Conditions []Condition   `json:"conditions"`
	Any        [][]Condition `json:"any,omitempty"`
	At         time.Time     `json:"at"`
}

// FilterUpdated: the filter's name and conditions were replaced.
type FilterUpdated struct {
	FilterID   uuid.UUID     `json:"filter_id"`
	Name       string        `json:"name"`
	Conditions []Condition   `json:"conditions"`
	Any        [][]Condition `json:"any,omitempty"`
	At         time.Time     `json:"at"`
}

// FilterDeleted: the filter is gone; tokens bound to it see nothing.
type FilterDeleted struct {
	FilterID uuid.UUID `json:"filter_id"`
	At       time.Time `json:"at"`
}

// TokenCreated: a credential exists. It never holds the secret, only the
// prefix and last four characters shown in lists.
type TokenCreated struct {
	TokenID      uuid.UUID    `json:"token_id"`
	AccountID    uuid.UUID    `json:"account_id"`
	CampaignID   *uuid.UUID   `json:"campaign_id,omitempty"`
	FilterID     *uuid.UUID   `json:"filter_id,omitempty"`
	Name         string       `json:"name"`
	Permissions  []Permission `json:"permissions"`
	ExpiresAt    *time.Time   `json:"expires_at,omitempty"`
	SecretPrefix string       `json:"secret_prefix"`
	SecretLast4  string       `json:"secret_last4"`
	DocsID       string       `json:"docs_id"`
	At           time.Time    `json:"at"`
}

// TokenUpdated: name, permissions, filter or expiry changed. Nil fields are
// unchanged; ClearFilter and ClearExpiry remove those.
type TokenUpdated struct {
	TokenID     uuid.UUID    `json:"token_id"`
	Name        *string      `json:"name,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
	FilterID    *uuid.UUID   `json:"filter_id,omitempty"`
	ClearFilter bool         `json:"clear_filter,omitempty"`
	ExpiresAt   *time.Time   `json:"expires_at,omitempty"`
	ClearExpiry bool         `json:"clear_expiry,omitempty"`
	At          time.Time    `json:"at"`
}

// TokenRotated: a new secret; the previous one stays valid until
// PreviousValidUntil, which is At when it ended at once.
type TokenRotated struct {
	TokenID            uuid.UUID `json:"token_id"`
	SecretPrefix       string    `json:"secret_prefix"`
	SecretLast4        string    `json:"secret_last4"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
	At                 time.Time `json:"at"`
}

// TokenRevealed: an admin used "Show".
type TokenRevealed struct {
	TokenID uuid.UUID `json:"token_id"`
	At      time.Time `json:"at"`
}

// TokenRevoked: the token stopped working; its stored secret is destroyed.
type TokenRevoked struct {
	TokenID uuid.UUID `json:"token_id"`
	At      time.Time `json:"at"`
}

// LeadCreated: a lead with its initial status and fields.
type LeadCreated struct {
	LeadID     uuid.UUID `json:"lead_id"`
	CampaignID uuid.UUID `json:"campaign_id"`
	AccountID  uuid.UUID `json:"account_id"`
	Status     string    `json:"status"`
	Fields     Fields    `json:"fields"`
	At         time.Time `json:"at"`
}

// LeadUpdated: the changed fields with their new values (null clears) and,
// when it changed, the status.
type LeadUpdated struct {
	LeadID     uuid.UUID `json:"lead_id"`
	Fields     Fields    `json:"fields,omitempty"`
	StatusFrom string    `json:"status_from,omitempty"`
	StatusTo   string    `json:"status_to,omitempty"`
	At         time.Time `json:"at"`
}

// FileMeta describes a lead's file; the bytes live outside the log.
type FileMeta struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
}

// FileAttached: a file was attached to a lead.
type FileAttached struct {
	LeadID uuid.UUID `json:"lead_id"`
	File   FileMeta  `json:"file"`
	At     time.Time `json:"at"`
}

// FileRemoved: a file was removed from a lead.
type FileRemoved struct {
	LeadID uuid.UUID `json:"lead_id"`
	FileID uuid.UUID `json:"file_id"`
	At     time.Time `json:"at"`
}

// Event names: stable strings, never derived from Go type names.
func (AccountCreated) EventType() string    { return "account.created" }
func (CampaignCreated) EventType() string   { return "campaign.created" }
func (CampaignRenamed) EventType() string   { return "campaign.renamed" }
func (SelectAdded) EventType() string       { return "campaign.select_added" }
func (SelectOptionAdded) EventType() string { return "campaign.select_option_added" }
func (FieldAdded) EventType() string        { return "campaign.field_added" }
func (StatusAdded) EventType() string       { return "campaign.status_added" }
func (FilterCreated) EventType() string     { return "filter.created" }
func (FilterUpdated) EventType() string     { return "filter.updated" }
func (FilterDeleted) EventType() string     { return "filter.deleted" }
func (TokenCreated) EventType() string      { return "token.created" }
func (TokenUpdated) EventType() string      { return "token.updated" }
func (TokenRotated) EventType() string      { return "token.rotated" }
func (TokenRevealed) EventType() string     { return "token.revealed" }
func (TokenRevoked) EventType() string      { return "token.revoked" }
func (LeadCreated) EventType() string       { return "lead.created" }
func (LeadUpdated) EventType() string       { return "lead.updated" }
func (FileAttached) EventType() string      { return "lead.file_attached" }
func (FileRemoved) EventType() string       { return "lead.file_removed" }

// NewRegistry returns the registry of every event the service writes: the
// one place a name maps to a type. Renaming a Go type changes nothing
// stored; changing a shape needs an upcaster here.
func NewRegistry() *Registry {
	r := NewEmptyRegistry()
	Register[AccountCreated](r)
	Register[CampaignCreated](r)
	Register[CampaignRenamed](r)
	Register[SelectAdded](r)
	Register[SelectOptionAdded](r)
	Register[FieldAdded](r)
	Register[StatusAdded](r)
	Register[SelectOptionChanged](r)
	Register[FieldChanged](r)
	Register[StatusDefinitionChanged](r)
	Register[CampaignRetentionChanged](r)
	Register[FilterCreated](r)
	Register[FilterUpdated](r)
	Register[FilterDeleted](r)
	Register[TokenCreated](r)
	Register[TokenUpdated](r)
	Register[TokenRotated](r)
	Register[TokenRevealed](r)
	Register[TokenRevoked](r)
	Register[LeadCreated](r)
	Register[LeadUpdated](r)
	Register[FileAttached](r)
	Register[FileRemoved](r)
	Register[LeadErased](r)
	Register[WebhookCreated](r)
	Register[WebhookUpdated](r)
	Register[WebhookSecretRotated](r)
	Register[WebhookSecretRevealed](r)
	Register[WebhookDisabled](r)
	Register[WebhookEnabled](r)
	Register[WebhookDeleted](r)
	return r
}
