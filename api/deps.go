package api

import (
	"context"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// The interfaces below are what the handlers call, grouped by concern;
// *commands.Commands, *leads.Reader and *audit.Reader satisfy them, and
// the handler tests use in-memory fakes.

// Authenticator finds the token of a request's secret and checks a cached
// authentication's guard (commands.ErrScopeChanged when it is stale).
type Authenticator interface {
	CachedAuthentication(secret string) (commands.TokenInfo, *commands.Scope, commands.Guard, bool)
	AuthenticateScoped(ctx context.Context, secret string) (commands.TokenInfo, *commands.Scope, error)
	CheckGuard(ctx context.Context, g commands.Guard) error
	TouchLastUsed(ctx context.Context, tokenID uuid.UUID) error
	TokenScope(ctx context.Context, t commands.TokenInfo, s *commands.Scope) (domain.Scope, error)
}

// LeadWriter writes leads.
type LeadWriter interface {
	CreateLead(ctx context.Context, cmd commands.CreateLead) (commands.LeadResult, error)
	CreateLeads(ctx context.Context, cmd commands.CreateLeads) (commands.LeadsResult, error)
	UpdateLead(ctx context.Context, cmd commands.UpdateLead) (commands.LeadResult, error)
	EraseLead(ctx context.Context, cmd commands.EraseLead) (commands.EraseResult, error)
}

// Files keeps the files attached to leads.
type Files interface {
	AttachFile(ctx context.Context, cmd commands.AttachFile) (commands.FileResult, error)
	File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (commands.File, error)
	WriteFile(ctx context.Context, w io.Writer, f commands.File) error
	RemoveFile(ctx context.Context, cmd commands.RemoveFile) (commands.LeadResult, error)
	FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error)
}

// Campaigns administers campaigns and their filters; Campaign is also
// what the partner routes read a schema from.
type Campaigns interface {
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
	ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error)
	CreateCampaign(ctx context.Context, cmd commands.CreateCampaign) (commands.CampaignResult, error)
	ChangeCampaign(ctx context.Context, cmd commands.ChangeCampaign) (commands.CampaignResult, error)
	Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error)
	ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error)
	CreateFilter(ctx context.Context, cmd commands.CreateFilter) (commands.FilterResult, error)
	UpdateFilter(ctx context.Context, cmd commands.UpdateFilter) (commands.FilterResult, error)
}

// Tokens administers API tokens.
type Tokens interface {
	Token(ctx context.Context, accountID, id uuid.UUID) (commands.TokenInfo, error)
	ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]commands.TokenInfo, error)
	CreateToken(ctx context.Context, cmd commands.CreateToken) (commands.TokenSecretResult, error)
	UpdateToken(ctx context.Context, cmd commands.UpdateToken) (commands.TokenResult, error)
	RotateToken(ctx context.Context, cmd commands.RotateToken) (commands.TokenSecretResult, error)
	RevealToken(ctx context.Context, cmd commands.RevealToken) (commands.TokenSecretResult, error)
	RevokeToken(ctx context.Context, cmd commands.RevokeToken) (commands.TokenResult, error)
}

// Webhooks administers webhooks and their deliveries.
type Webhooks interface {
	Webhook(ctx context.Context, accountID, id uuid.UUID) (commands.WebhookInfo, error)
	ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]commands.WebhookInfo, error)
	CreateWebhook(ctx context.Context, cmd commands.CreateWebhook) (commands.WebhookSecretResult, error)
	UpdateWebhook(ctx context.Context, cmd commands.UpdateWebhook) (commands.WebhookResult, error)
	RotateWebhookSecret(ctx context.Context, cmd commands.RotateWebhookSecret) (commands.WebhookSecretResult, error)
	DeleteWebhook(ctx context.Context, cmd commands.DeleteWebhook) (commands.WebhookResult, error)
	SendWebhookTest(ctx context.Context, cmd commands.SendWebhookTest) (commands.WebhookTestResult, error)
	WebhookDeliveries(ctx context.Context, accountID, webhookID uuid.UUID, q commands.DeliveryQuery) ([]commands.WebhookDelivery, error)
	RedeliverWebhook(ctx context.Context, cmd commands.RedeliverWebhook) (commands.RedeliverResult, error)
}

// Commands is every write and administration the API asks of the
// command side.
type Commands interface {
	Authenticator
	LeadWriter
	Files
	Campaigns
	Tokens
	Webhooks
}

// LeadReader reads the lead views.
type LeadReader interface {
	Get(ctx context.Context, accountID, leadID uuid.UUID, check *leads.Check) (domain.Lead, error)
	List(ctx context.Context, q leads.Query) (leads.Page, error)
	ListRaw(ctx context.Context, q leads.Query, filterVersion int64) (leads.RawPage, error)
	// WaitFor reports whether the views reached position before ctx ends.
	WaitFor(ctx context.Context, position int64) (bool, error)
}

// AuditReader answers the auditors' routes from the event log.
type AuditReader interface {
	LeadHistory(ctx context.Context, accountID, leadID uuid.UUID) (audit.LeadHistory, error)
	LeadAt(ctx context.Context, accountID, leadID uuid.UUID, at time.Time, version int64) (audit.LeadState, error)
	VerifyLead(ctx context.Context, accountID, leadID uuid.UUID) (audit.Integrity, error)
	TokenHistory(ctx context.Context, accountID, tokenID uuid.UUID, q audit.TokenHistoryQuery) (audit.TokenHistory, error)
	VisibleLeads(ctx context.Context, accountID, tokenID uuid.UUID, at time.Time) (audit.Visibility, error)
	OpenFeed(ctx context.Context, accountID uuid.UUID, q audit.FeedQuery) (*audit.Feed, error)
}

// DocsSource is what the public documentation reads: a docs id's token,
// its scope and its campaign.
type DocsSource interface {
	TokenByDocsID(ctx context.Context, docsID string) (commands.TokenInfo, error)
	TokenScope(ctx context.Context, t commands.TokenInfo, s *commands.Scope) (domain.Scope, error)
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
}

var (
	_ Commands    = (*commands.Commands)(nil)
	_ DocsSource  = (*commands.Commands)(nil)
	_ LeadReader  = (*leads.Reader)(nil)
	_ AuditReader = (*audit.Reader)(nil)
)
