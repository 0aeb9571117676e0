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
	"github.com/leadsvc/leadsvc/queries"
)

// The interfaces below are what the handlers call, grouped by concern;
// *commands.Commands, *queries.Queries, *leads.Reader and *audit.Reader
// satisfy them, and the handler tests use in-memory fakes.

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
}

// FileWriter attaches files to leads and removes them.
type FileWriter interface {
	AttachFile(ctx context.Context, cmd commands.AttachFile) (commands.FileResult, error)
	RemoveFile(ctx context.Context, cmd commands.RemoveFile) (commands.LeadResult, error)
}

// CampaignWriter administers campaigns and their filters.
type CampaignWriter interface {
	CreateCampaign(ctx context.Context, cmd commands.CreateCampaign) (commands.CampaignResult, error)
	ChangeCampaign(ctx context.Context, cmd commands.ChangeCampaign) (commands.CampaignResult, error)
	CreateFilter(ctx context.Context, cmd commands.CreateFilter) (commands.FilterResult, error)
	UpdateFilter(ctx context.Context, cmd commands.UpdateFilter) (commands.FilterResult, error)
}

// TokenWriter administers API tokens.
type TokenWriter interface {
	CreateToken(ctx context.Context, cmd commands.CreateToken) (commands.TokenSecretResult, error)
	UpdateToken(ctx context.Context, cmd commands.UpdateToken) (commands.TokenResult, error)
	RotateToken(ctx context.Context, cmd commands.RotateToken) (commands.TokenSecretResult, error)
	RevealToken(ctx context.Context, cmd commands.RevealToken) (commands.TokenSecretResult, error)
	RevokeToken(ctx context.Context, cmd commands.RevokeToken) (commands.TokenResult, error)
}

// WebhookWriter administers webhooks and their deliveries.
type WebhookWriter interface {
	CreateWebhook(ctx context.Context, cmd commands.CreateWebhook) (commands.WebhookSecretResult, error)
	UpdateWebhook(ctx context.Context, cmd commands.UpdateWebhook) (commands.WebhookResult, error)
	RotateWebhookSecret(ctx context.Context, cmd commands.RotateWebhookSecret) (commands.WebhookSecretResult, error)
	DeleteWebhook(ctx context.Context, cmd commands.DeleteWebhook) (commands.WebhookResult, error)
	SendWebhookTest(ctx context.Context, cmd commands.SendWebhookTest) (commands.WebhookTestResult, error)
	RedeliverWebhook(ctx context.Context, cmd commands.RedeliverWebhook) (commands.RedeliverResult, error)
}

// Commands is every write the API asks of the command side, and the
// authentication it keeps.
type Commands interface {
	Authenticator
	LeadWriter
	FileWriter
	CampaignWriter
	TokenWriter
	WebhookWriter
}

// Queries is what the API reads of the inline views; Campaign is also
// what the partner routes read a schema from.
type Queries interface {
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
	ListCampaigns(ctx context.Context, accountID uuid.UUID) ([]domain.Campaign, error)
	Filter(ctx context.Context, accountID, id uuid.UUID) (domain.Filter, error)
	ListFilters(ctx context.Context, accountID, campaignID uuid.UUID) ([]domain.Filter, error)
	Token(ctx context.Context, accountID, id uuid.UUID) (commands.TokenInfo, error)
	ListTokens(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]commands.TokenInfo, error)
	Webhook(ctx context.Context, accountID, id uuid.UUID) (commands.WebhookInfo, error)
	ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]commands.WebhookInfo, error)
	WebhookDeliveries(ctx context.Context, accountID, webhookID uuid.UUID, q queries.DeliveryQuery) ([]commands.WebhookDelivery, error)
	File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (queries.File, error)
	WriteFile(ctx context.Context, w io.Writer, f queries.File) error
	FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error)
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

// DocsQueries is what the public documentation reads: a docs id's token
// and its campaign.
type DocsQueries interface {
	TokenByDocsID(ctx context.Context, docsID string) (commands.TokenInfo, error)
	Campaign(ctx context.Context, accountID, id uuid.UUID) (domain.Campaign, error)
}

// Scopes resolves what a token sees now (commands.Auth's TokenScope).
type Scopes interface {
	TokenScope(ctx context.Context, t commands.TokenInfo, s *commands.Scope) (domain.Scope, error)
}

var (
	_ Commands    = (*commands.Commands)(nil)
	_ Queries     = (*queries.Queries)(nil)
	_ DocsQueries = (*queries.Queries)(nil)
	_ Scopes      = (*commands.Commands)(nil)
	_ LeadReader  = (*leads.Reader)(nil)
	_ AuditReader = (*audit.Reader)(nil)
)
