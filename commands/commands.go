// Package commands holds the write use cases of leadsvc, one handler type
// each (CreateLeadHandler handles CreateLead), gathered in Commands: each
// loads an aggregate, lets the domain decide, and appends the events,
// keeping the inline views (tokens, schemas, filters, file bytes) exact in
// the same transaction. The views are eventstore/views', reached through
// the interfaces declared here (Views); their reads for callers are
// package queries'. commands writes no SQL. Handlers return errors and
// never log.
package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Errors the API maps to problems. Domain sentinels (domain.ErrLeadNotFound
// …) and *domain.ValidationError pass through wrapped.
var (
	ErrPreconditionFailed    = errors.New("the resource changed since the version given in If-Match")
	ErrConflict              = errors.New("the resource was changed concurrently; retry")
	ErrIdempotencyKeyReused  = errors.New("the Idempotency-Key was used with a different request")
	ErrIdempotencyInProgress = errors.New("a request with this Idempotency-Key is still in progress")
	ErrUnauthenticated       = errors.New("unknown or malformed token")
	ErrTokenExpired          = errors.New("token expired")
	ErrSecretUnavailable     = errors.New("the token's secret is no longer stored")
)

// Config wires the handlers.
type Config struct {
	Store *eventstore.Store
	// Views keeps the inline views in the appends' transactions and reads
	// them; nil is views.Of(Store).
	Views     Views
	SecretKey []byte // 32 bytes; seals stored token and webhook secrets
	// PreviousSecretKeys only open: secrets they sealed stay readable
	// while RotateSecretKey re-seals them under SecretKey.
	PreviousSecretKeys [][]byte
	Clock              func() time.Time // default time.Now
	Random             io.Reader        // default crypto/rand
	Webhooks           WebhookTargets   // which endpoints webhook subscriptions may name
	// LeadViews writes an erased lead's tombstone in the erasure's
	// transaction; nil leaves it to the lead views' projection.
	LeadViews ErasedLeadViews
}

// Commands holds every write use case, one handler each, and the
// authentication and key checks that share their state.
type Commands struct {
	CreateAccount CreateAccountHandler

	CreateCampaign CreateCampaignHandler
	ChangeCampaign ChangeCampaignHandler
	CreateFilter   CreateFilterHandler
	UpdateFilter   UpdateFilterHandler

	CreateLead  CreateLeadHandler
	CreateLeads CreateLeadsHandler
	UpdateLead  UpdateLeadHandler
	EraseLead   EraseLeadHandler
	AttachFile  AttachFileHandler
	RemoveFile  RemoveFileHandler

	CreateToken CreateTokenHandler
	UpdateToken UpdateTokenHandler
	RotateToken RotateTokenHandler
	RevealToken RevealTokenHandler
	RevokeToken RevokeTokenHandler

	CreateWebhook       CreateWebhookHandler
	UpdateWebhook       UpdateWebhookHandler
	RotateWebhookSecret RotateWebhookSecretHandler
	DisableWebhook      DisableWebhookHandler
	DeleteWebhook       DeleteWebhookHandler
	RedeliverWebhook    RedeliverWebhookHandler
	SendWebhookTest     SendWebhookTestHandler

	RotateSecretKey      RotateSecretKeyHandler
	ForgetSecretKey      ForgetSecretKeyHandler
	SweepIdempotencyKeys SweepIdempotencyKeysHandler
	EraseExpiredLeads    EraseExpiredLeadsHandler

	// Auth authenticates tokens through the cache the writes keep.
	Auth Auth
	// Keys tells which keys seal the stored secrets and opens them.
	Keys Keys
}

// deps is what every handler shares.
type deps struct {
	store  *eventstore.Store
	views  Views
	sealer *Sealer
	now    func() time.Time
	rnd    io.Reader

	webhookTargets WebhookTargets
	auths          authCache
	leadViews      ErasedLeadViews
}

// Auth authenticates tokens: by secret, from the process's cache of
// authentications (whose guard a write checks), and resolves their scope.
type Auth struct{ *deps }

// Keys reports on the secret keys and opens what they sealed.
type Keys struct{ *deps }

// New returns the handlers for cfg.
func New(cfg Config) (Commands, error) {
	if cfg.Store == nil {
		return Commands{}, errors.New("commands: no store")
	}
	sealer, err := NewSealer(cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return Commands{}, fmt.Errorf("commands: %w", err)
	}
	c := &deps{store: cfg.Store, views: cfg.Views, sealer: sealer, now: cfg.Clock, rnd: cfg.Random,
		webhookTargets: cfg.Webhooks, leadViews: cfg.LeadViews}
	if c.views == nil {
		c.views = views.Of(cfg.Store)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rnd == nil {
		c.rnd = rand.Reader
	}
	return Commands{
		CreateAccount:        CreateAccountHandler{c},
		CreateCampaign:       CreateCampaignHandler{c},
		ChangeCampaign:       ChangeCampaignHandler{c},
		CreateFilter:         CreateFilterHandler{c},
		UpdateFilter:         UpdateFilterHandler{c},
		CreateLead:           CreateLeadHandler{c},
		CreateLeads:          CreateLeadsHandler{c},
		UpdateLead:           UpdateLeadHandler{c},
		EraseLead:            EraseLeadHandler{c},
		AttachFile:           AttachFileHandler{c},
		RemoveFile:           RemoveFileHandler{c},
		CreateToken:          CreateTokenHandler{c},
		UpdateToken:          UpdateTokenHandler{c},
		RotateToken:          RotateTokenHandler{c},
		RevealToken:          RevealTokenHandler{c},
		RevokeToken:          RevokeTokenHandler{c},
		CreateWebhook:        CreateWebhookHandler{c},
		UpdateWebhook:        UpdateWebhookHandler{c},
		RotateWebhookSecret:  RotateWebhookSecretHandler{c},
		DisableWebhook:       DisableWebhookHandler{c},
		DeleteWebhook:        DeleteWebhookHandler{c},
		RedeliverWebhook:     RedeliverWebhookHandler{c},
		SendWebhookTest:      SendWebhookTestHandler{c},
		RotateSecretKey:      RotateSecretKeyHandler{c},
		ForgetSecretKey:      ForgetSecretKeyHandler{c},
		SweepIdempotencyKeys: SweepIdempotencyKeysHandler{c},
		EraseExpiredLeads:    EraseExpiredLeadsHandler{c},
		Auth:                 Auth{c},
		Keys:                 Keys{c},
	}, nil
}

// Meta is who asks and why: it goes onto every event of the command.
type Meta = eventstore.Metadata

// Written tells a caller where its write landed in the log, so it can wait
// for projections to reach it.
type Written struct {
	Position int64 `json:"position,omitempty"`
	// Replayed is true when an Idempotency-Key matched an earlier request
	// and this is its stored result; nothing was written now.
	Replayed bool `json:"-"`
}

func (w *Written) markReplayed() { w.Replayed = true }

func written(a eventstore.Appended) Written { return Written{Position: a.LastPosition()} }

func (c *deps) at() time.Time { return c.now().UTC().Truncate(time.Microsecond) }

// mapConflict turns a store conflict into the error the caller can act on.
func mapConflict(err error, ifMatch bool) error {
	if errors.Is(err, eventstore.ErrVersionConflict) {
		if ifMatch {
			return fmt.Errorf("%w: %w", ErrPreconditionFailed, err)
		}
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// inlineAll chains inline steps in one transaction (views.Chain).
func inlineAll(steps ...eventstore.Inline) eventstore.Inline { return views.Chain(steps...) }

// load reads and folds one aggregate's stream.
func (c *deps) load(ctx context.Context, stream string) ([]domain.Event, error) {
	recs, err := c.store.ReadStream(ctx, stream, eventstore.ReadOptions{})
	if err != nil {
		return nil, err
	}
	return eventstore.Events(recs), nil
}
