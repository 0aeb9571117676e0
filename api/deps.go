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
// commands' handlers and Auth, *queries.Queries, *leads.Reader and
// *audit.Reader satisfy them, and the handler tests use in-memory fakes.

// Authenticator finds the token of a request's secret and checks a cached
// authentication's guard (commands.ErrScopeChanged when it is stale).
type Authenticator interface {
	CachedAuthentication(secret string) (commands.TokenInfo, *commands.Scope, commands.Guard, bool)
	AuthenticateScoped(ctx context.Context, secret string) (commands.TokenInfo, *commands.Scope, error)
	CheckGuard(ctx context.Context, g commands.Guard) error
	TouchLastUsed(ctx context.Context, tokenID uuid.UUID) error
	TokenScope(ctx context.Context, t commands.TokenInfo, s *commands.Scope) (domain.Scope, error)
}

// Handler is one use case of the command side, as commands' handlers
// are; HandlerFunc makes one of a function, so fakes stay cheap.
type Handler[C, R any] interface {
	Handle(ctx context.Context, cmd C) (R, error)
}

// HandlerFunc is a function as a Handler.
type HandlerFunc[C, R any] func(ctx context.Context, cmd C) (R, error)

// Handle calls f.
func (f HandlerFunc[C, R]) Handle(ctx context.Context, cmd C) (R, error) { return f(ctx, cmd) }

// Commands is every write the API asks of the command side, one handler
// per use case.
type Commands struct {
	CreateLead  Handler[commands.CreateLead, commands.LeadResult]
	CreateLeads Handler[commands.CreateLeads, commands.LeadsResult]
	UpdateLead  Handler[commands.UpdateLead, commands.LeadResult]
	EraseLead   Handler[commands.EraseLead, commands.EraseResult]
	AttachFile  Handler[commands.AttachFile, commands.FileResult]
	RemoveFile  Handler[commands.RemoveFile, commands.LeadResult]

	CreateCampaign Handler[commands.CreateCampaign, commands.CampaignResult]
	ChangeCampaign Handler[commands.ChangeCampaign, commands.CampaignResult]
	CreateFilter   Handler[commands.CreateFilter, commands.FilterResult]
	UpdateFilter   Handler[commands.UpdateFilter, commands.FilterResult]

	CreateToken Handler[commands.CreateToken, commands.TokenSecretResult]
	UpdateToken Handler[commands.UpdateToken, commands.TokenResult]
	RotateToken Handler[commands.RotateToken, commands.TokenSecretResult]
	RevealToken Handler[commands.RevealToken, commands.TokenSecretResult]
	RevokeToken Handler[commands.RevokeToken, commands.TokenResult]

	CreateWebhook       Handler[commands.CreateWebhook, commands.WebhookSecretResult]
	UpdateWebhook       Handler[commands.UpdateWebhook, commands.WebhookResult]
	RotateWebhookSecret Handler[commands.RotateWebhookSecret, commands.WebhookSecretResult]
	DeleteWebhook       Handler[commands.DeleteWebhook, commands.WebhookResult]
	SendWebhookTest     Handler[commands.SendWebhookTest, commands.WebhookTestResult]
	RedeliverWebhook    Handler[commands.RedeliverWebhook, commands.RedeliverResult]
}

// CommandsOf is the API's share of the command side's handlers.
func CommandsOf(c commands.Commands) Commands {
	return Commands{
		CreateLead: c.CreateLead, CreateLeads: c.CreateLeads, UpdateLead: c.UpdateLead, EraseLead: c.EraseLead,
		AttachFile: c.AttachFile, RemoveFile: c.RemoveFile,
		CreateCampaign: c.CreateCampaign, ChangeCampaign: c.ChangeCampaign,
		CreateFilter: c.CreateFilter, UpdateFilter: c.UpdateFilter,
		CreateToken: c.CreateToken, UpdateToken: c.UpdateToken, RotateToken: c.RotateToken,
		RevealToken: c.RevealToken, RevokeToken: c.RevokeToken,
		CreateWebhook: c.CreateWebhook, UpdateWebhook: c.UpdateWebhook, RotateWebhookSecret: c.RotateWebhookSecret,
		DeleteWebhook: c.DeleteWebhook, SendWebhookTest: c.SendWebhookTest, RedeliverWebhook: c.RedeliverWebhook,
	}
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
	LeadDeliveries(ctx context.Context, accountID, leadID uuid.UUID) ([]commands.WebhookDelivery, error)
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

// Scopes resolves what a token sees now, as commands.Auth does.
type Scopes interface {
	TokenScope(ctx context.Context, t commands.TokenInfo, s *commands.Scope) (domain.Scope, error)
}

var (
	_ Authenticator = commands.Auth{}
	_ Queries       = (*queries.Queries)(nil)
	_ DocsQueries   = (*queries.Queries)(nil)
	_ Scopes        = commands.Auth{}
	_ LeadReader    = (*leads.Reader)(nil)
	_ AuditReader   = (*audit.Reader)(nil)
)
